#!/usr/bin/env bash
# Set up everything the tests need on a Debian 12 machine, then run lint, types and all tests.
# This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: real SIP peers (SIPp, baresip), tshark for captures, espeak-ng for talk-off
# speech, kamailio as the benchmarks' baseline (the smoke test runs it), postgresql for the
# PostgreSQL state store's tests (they start a throw-away cluster), a C compiler and the
# Python headers for the wheel's mypyc-compiled modules (setup.py), and chromium for the wallboard's
# browser test (Playwright drives the system browser; `playwright install` is never run).
DEB_PACKAGES="sip-tester baresip-core tshark espeak-ng iproute2 kamailio postgresql python3-venv gcc python3-dev chromium"
missing=""
for p in $DEB_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test]'

echo "== ruff"
.venv/bin/ruff check acd codecs console gateway lab tests bench hil_tests fuzz
echo "== mypy (strict, on the installed names)"
# The folders install as acdgate.<name>; mypy reads them through a symlink tree.
rm -rf build/typecheck && mkdir -p build/typecheck/acdgate
for d in acd codecs console gateway lab; do ln -s "../../../$d" "build/typecheck/acdgate/$d"; done
MYPYPATH=build/typecheck .venv/bin/mypy --namespace-packages --explicit-package-bases \
  -p acdgate.acd -p acdgate.codecs -p acdgate.gateway -p acdgate.lab -p acdgate.console

echo "== wheel: build it as pip install . does (compiled), install it in its own venv, import once"
scripts/check-wheel.sh build/wheel-venv

echo "== pytest, on the wheel (what users install: the hot path compiled)"
build/wheel-venv/bin/python -m pytest "$@"

echo "== pytest, the SIP layer on the editable install (the compiled modules as pure Python)"
.venv/bin/python -m pytest -q tests/gateway \
  -k "regist or binding or qualify or stateless or digest or group_commit or sip or backlog or recent or throttle"

echo "== hil_tests: the default lab as a user runs it (softphones on a namespace lab LAN, clean then lossy)"
# the wheel alone in its own venv (`pip install WHEEL`, no extras: what `pip install .` gives),
# run from an empty directory with no --tests and no --out: the scenarios installed with the
# package, the report under the current directory (copied to build/lab-report to read)
rm -rf build/lab-venv build/lab-report build/lab-report-twins
python3 -m venv build/lab-venv
build/lab-venv/bin/pip install -q --upgrade pip
build/lab-venv/bin/pip install -q build/dist/acdgate-*.whl
acdgate=$(pwd)/build/lab-venv/bin/acdgate
lab_dir=$(mktemp -d)
lab_status=0
(cd "$lab_dir" && "$acdgate" lab run) || lab_status=$?
[ ! -d "$lab_dir/lab-report" ] || cp -r "$lab_dir/lab-report" build/lab-report
for f in index.html junit.xml; do
  [ -f "$lab_dir/lab-report/$f" ] || { echo "acdgate lab run left no lab-report/$f in $lab_dir" >&2; lab_status=1; }
done

echo "== hil_tests: the phone scenarios on the twins lab installed with acdgate (Cisco, Yealink, Polycom twins)"
# their vendors' HTTP APIs: menu keys, pushes and programmed keys; clean network only (~1 min)
(cd "$lab_dir" && "$acdgate" lab run twins --quick -k "cisco or yealink or polycom" --out lab-report-twins) \
  || lab_status=$?
[ ! -d "$lab_dir/lab-report-twins" ] || cp -r "$lab_dir/lab-report-twins" build/lab-report-twins
rm -rf "$lab_dir"
exit "$lab_status"
