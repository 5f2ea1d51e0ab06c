# Shared by scripts/serve and scripts/test: make .venv with Python 3.11+ and install the
# project into it, again only when pyproject.toml changed. Sourced, not run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"

find_python() {
    for candidate in ${PYTHON:-} python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "punchclock needs Python 3.11 or newer; none was found on PATH (set PYTHON=...)" >&2
    return 1
}

# ensure_venv EXTRAS: EXTRAS is "" for the service alone or "dev" for the test tools.
ensure_venv() {
    local extras="$1" spec="$root" stamp
    [ -n "$extras" ] && spec="$root[$extras]"
    if [ ! -x "$venv/bin/python" ]; then
        local python
        python="$(find_python)"
        echo "setting up $venv with $("$python" --version)" >&2
        "$python" -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --upgrade pip
    fi
    local hash
    hash="$(sha256sum "$root/pyproject.toml" | cut -c1-16)"
    stamp="$venv/.installed-$hash-${extras:-base}"
    # the dev tools come with the service: a .venv made by ./scripts/test serves too
    if [ ! -f "$stamp" ] && ! { [ -z "$extras" ] && [ -f "$venv/.installed-$hash-dev" ]; }; then
        echo "installing punchclock${extras:+ with $extras tools} into $venv" >&2
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec"
        touch "$stamp"
    fi
}
