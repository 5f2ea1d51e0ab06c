"""The pages' static files, served by punchclock itself under names that carry their hash."""

from __future__ import annotations

import hashlib
from importlib import resources

from starlette.exceptions import HTTPException
from starlette.responses import Response

_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
# A name changes whenever its content does, so a browser may keep a file for a year and
# never ask again (RFC 9111; `immutable`, RFC 8246).
CACHE_FOREVER = "public, max-age=31536000, immutable"


class Assets:
    """Read web/pages/static once (when the app is built) and serve it by hashed name.

    `style.css` is served as `/static/style.<12 hex of its SHA-256>.css`; templates ask
    `url("style.css")` for that path. No build step: the hash is made here.
    """

    def __init__(self) -> None:
        self._by_name: dict[str, str] = {}  # style.css -> /static/style.0123abcd4567.css
        self._files: dict[str, tuple[bytes, str]] = {}  # hashed name -> (content, type)
        folder = resources.files("punchclock.web.pages").joinpath("static")
        for entry in folder.iterdir():
            stem, dot, suffix = entry.name.rpartition(".")
            if not dot or f".{suffix}" not in _TYPES:
                continue
            content = entry.read_bytes()
            digest = hashlib.sha256(content).hexdigest()[:12]
            hashed = f"{stem}.{digest}.{suffix}"
            self._by_name[entry.name] = f"/static/{hashed}"
            self._files[hashed] = (content, _TYPES[f".{suffix}"])

    def url(self, name: str) -> str:
        """Return the path a template links a static file by."""
        return self._by_name[name]

    def response(self, hashed_name: str) -> Response:
        found = self._files.get(hashed_name)
        if found is None:
            raise HTTPException(404)
        content, media_type = found
        return Response(content, media_type=media_type, headers={"cache-control": CACHE_FOREVER})
