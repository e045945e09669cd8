#!/usr/bin/env bash
# Editable installs hide packaging mistakes behind an import hook: build the real wheel,
# install it in a scratch venv and import every layer once (DESIGN.md, Packaging).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/pip wheel -q --no-deps -w "$tmp/dist" .
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q "$tmp"/dist/acdgate-*.whl
(cd "$tmp" && "$tmp/venv/bin/python" - <<'PY'
import codecs, importlib, pkgutil
import acdgate.acd, acdgate.codecs, acdgate.gateway, acdgate.lab
assert codecs.lookup("utf-8").name == "utf-8", "stdlib codecs shadowed"
for pkg in (acdgate.acd, acdgate.codecs, acdgate.gateway, acdgate.lab):
    for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(mod.name)
print("wheel ok:", sorted(m.name for m in pkgutil.iter_modules(acdgate.gateway.__path__)))
PY
)
"$tmp/venv/bin/acdgate" --help >/dev/null
