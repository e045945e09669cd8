#!/usr/bin/env bash
# The optional compiled build (setup.py: the REGISTER path compiled by mypyc) in its own venv,
# and the SIP tests run against it: compiled code checks declared types at run time and may
# differ from the interpreted source in ways only running it shows.
#   scripts/compiled-build.sh [VENV]     (default build/compiled-venv; needs gcc and python3-dev)
# Then `VENV/bin/acdgate run`, or `VENV/bin/python bench/bench_register.py` to measure it.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-build/compiled-venv}
rm -rf "$venv"
python3 -m venv "$venv"
mypy_version=$(.venv/bin/python -c 'import mypy.version; print(mypy.version.__version__)')
"$venv/bin/pip" install -q 'setuptools>=68' wheel "mypy==$mypy_version"
"$venv/bin/pip" install -q '.[test]'  # the dependencies, then acdgate again, compiled:
ACDGATE_COMPILED=1 "$venv/bin/pip" install -q --no-build-isolation --no-deps --force-reinstall .
"$venv/bin/python" - <<'PY'
import importlib.util
for name in ("acdgate.gateway.sip.register_scan", "acdgate.gateway.sip.registrar", "acdgate.gateway.sip_service"):
    origin = importlib.util.find_spec(name).origin
    assert origin.endswith(".so"), f"{name} is not compiled: {origin}"
print("compiled build ok")
PY
# the SIP layer's tests (the compiled modules are the SIP stack's UDP edge, the registrar and the
# SIP service; mypyc checks narrowed types at run time, so its differences show only when run)
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/gateway \
  -k "regist or binding or qualify or stateless or digest or group_commit or sip or backlog or recent or throttle"
