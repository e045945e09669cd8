#!/usr/bin/env bash
# Build the wheel as a user's `pip install .` does (isolated build, the hot path compiled by
# mypyc: setup.py), install it with the test dependencies in its own venv, import every module
# once and check the compiled ones are the extensions. Editable installs hide packaging mistakes
# behind an import hook (DESIGN.md, Packaging), and compiled code checks declared types at run
# time, so scripts/test.sh then runs the test suite with this venv's Python. The wheel stays in
# build/dist: scripts/test.sh installs it alone (no extras, as a user's `pip install .`) to run
# the HIL lab.
#   scripts/check-wheel.sh [VENV]     (default build/wheel-venv; needs gcc and python3-dev)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-build/wheel-venv}
dist=build/dist
# a stale build/lib from an earlier build would go into the wheel as it is
rm -rf build/lib.* build/temp.* build/bdist.* build/mypyc "$dist"
ACDGATE_COMPILED=1 .venv/bin/pip wheel -q --no-deps -w "$dist" .
wheel=$(ls "$dist"/acdgate-*.whl)
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q "$wheel[test]"
compiled=$(grep -o '^    "gateway/[a-z_/]*\.py",' setup.py | tr -d ' ",')  # setup.py's COMPILED
python=$(cd "$venv" && pwd)/bin/python
(cd "$dist" && "$python" - $compiled <<'PY'
import codecs, importlib, importlib.util, pkgutil, sys
import acdgate.acd, acdgate.codecs, acdgate.console, acdgate.gateway, acdgate.lab
from acdgate.lab.runner import installed_scenarios
assert codecs.lookup("utf-8").name == "utf-8", "stdlib codecs shadowed"
from acdgate.acd.languages import Language
from acdgate.gateway.i18n.catalogs import translations
logins = {translations(language).gettext("Agent Login") for language in Language}
assert len(logins) == len(Language), "the wheel lacks message catalogs (.mo)"
scenarios = installed_scenarios()
assert scenarios is not None and (scenarios / "test_agent_logon.py").is_file(), f"no hil_tests in the wheel: {scenarios}"
for pkg in (acdgate.acd, acdgate.codecs, acdgate.console, acdgate.gateway, acdgate.lab):
    for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        if not mod.name.endswith(".__main__"):  # running it is `python -m`'s job
            importlib.import_module(mod.name)
compiled = ["acdgate." + path.removesuffix(".py").replace("/", ".") for path in sys.argv[1:]]
assert compiled, "no compiled modules listed"
for name in compiled:
    origin = importlib.util.find_spec(name).origin
    assert origin.endswith(".so"), f"{name} is not compiled: {origin}"
print(f"wheel ok: {len(compiled)} modules compiled;", sorted(m.name for m in pkgutil.iter_modules(acdgate.gateway.__path__)))
PY
)
"$venv/bin/acdgate" --help >/dev/null
