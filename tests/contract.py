"""The OpenAPI document as the tests read it: its operations, and what each answer must be."""

from __future__ import annotations

import functools
import json
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from punchclock.web import openapi

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
JSON = "application/json; charset=utf-8"  # what the server sends for every JSON body
_URI = "urn:punchclock:openapi"  # the document's name in the schema registry


def load_document() -> dict[str, Any]:
    """Return a fresh copy of the served document, for a caller that may change it."""
    document: dict[str, Any] = json.loads(openapi.document())
    return document


@functools.cache
def _document() -> dict[str, Any]:
    return load_document()


def operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    """Return every (METHOD, path) the document describes."""
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def pointer(*parts: str) -> str:
    """Return the JSON pointer (RFC 6901) to a place in the document."""
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def _at(location: str) -> Any:
    node: Any = _document()
    for part in location.split("/")[1:]:
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _follow(location: str) -> tuple[str, Any]:
    """Follow local $refs from a location; return where they end and what is there."""
    node = _at(location)
    while isinstance(node, dict) and "$ref" in node:
        location = node["$ref"].removeprefix("#")
        node = _at(location)
    return location, node


@functools.cache
def validator(location: str) -> Draft202012Validator:
    """Return a Draft 2020-12 validator for the schema at `location` in the document."""
    registry: Registry[Any] = Registry().with_resource(
        _URI, Resource.from_contents(_document(), default_specification=DRAFT202012)
    )
    return Draft202012Validator(
        {"$ref": f"{_URI}#{location}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def documented_statuses(method: str, path: str) -> set[int]:
    return {int(status) for status in _document()["paths"][path][method.lower()]["responses"]}


def check_answer(response: httpx.Response, method: str, path: str) -> Any:
    """Assert that the document promises this answer to the operation; return its JSON body.

    The status must be documented; so must the headers the document requires, whose
    values must match their schemas; the body must be empty where no content is
    documented, and otherwise JSON that matches the documented schema.
    """
    __tracebackhide__ = True
    status = response.status_code
    assert status in documented_statuses(method, path), (
        f"{method} {path} answered {status}, which the document does not list: {response.text}"
    )
    location, answer = _follow(pointer("paths", path, method.lower(), "responses", str(status)))
    for name in answer.get("headers", {}):
        header_location, header = _follow(f"{location}{pointer('headers', name)}")
        values = response.headers.get_list(name)
        assert values or not header.get("required", False), f"{status} lacks the {name} header"
        for value in values:
            typed: Any = int(value) if header["schema"].get("type") == "integer" else value
            validator(f"{header_location}/schema").validate(typed)
    if "content" not in answer:
        assert response.content == b"", f"{status} should have no body: {response.content!r}"
        return None
    assert response.headers["content-type"] == JSON
    body = response.json()
    validator(f"{location}{pointer('content', 'application/json', 'schema')}").validate(body)
    return body
