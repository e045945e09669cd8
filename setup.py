"""Packaging is in setup.cfg; this file adds the compiled build, the default for a wheel.

A wheel (`pip install .`, `pip wheel .`) has the modules a REGISTER runs through compiled by
mypyc, the compiler mypy ships: the same typed Python as C extensions beside the .py files,
which Python imports first, for about a third less CPU a registration (bench/README.md). mypy,
mypy-zope and the runtime dependencies are build requirements (pyproject.toml), so mypyc checks
the modules against the same types CI does. As mypy and black do with their own wheels.

`ACDGATE_COMPILED` chooses: unset, compile when the machine can (a C compiler and the Python
headers: Debian `gcc python3-dev`) and fall back to pure Python with a warning when it cannot;
`1`, compile or fail; `0`, pure Python. An editable install (`pip install -e .`) is always pure:
a stale extension would shadow the source being edited. scripts/check-wheel.sh builds the wheel
as a user's install does; CI runs the tests and the HIL lab on it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

# the registrar's hot path, from the datagram to the commit (mypyc compiles them as one group)
COMPILED = (
    "gateway/sip/register_scan.py",
    "gateway/sip/received.py",
    "gateway/sip/registrar.py",
    "gateway/sip/digest.py",
    "gateway/sip/stateless.py",
    "gateway/auth/throttle.py",
    "gateway/sip/stack.py",
    "gateway/sip/message_counts.py",
    "gateway/sip/service.py",
)
# the setup.py commands that build extensions; metadata queries (egg_info, the build backend's
# get_requires_*) and editable installs (editable_wheel, develop) do not
_BUILDING = {"bdist_wheel", "build", "build_ext", "install"}
_EDITABLE = {"editable_wheel", "develop"}


def _say(text: str) -> None:
    print(f"acdgate setup: {text}", file=sys.stderr, flush=True)


def _mode() -> str:
    """"required", "auto" or "pure" for this run of setup.py."""
    choice = os.environ.get("ACDGATE_COMPILED", "")
    if choice not in ("", "0", "1"):
        raise SystemExit(f"acdgate setup: ACDGATE_COMPILED={choice!r}: use 1 (compile or fail), "
                         "0 (pure Python) or leave it unset (compile when possible)")
    commands = set(sys.argv[1:])
    if choice == "0" or commands & _EDITABLE or not commands & _BUILDING:
        return "pure"
    return "required" if choice == "1" else "auto"


def _compiled_extensions(mode: str) -> list[Any]:
    try:
        from mypyc.build import mypycify
    except ImportError as error:
        if mode == "required":
            raise SystemExit(f"acdgate setup: ACDGATE_COMPILED=1 needs mypy: {error}") from error
        _say(f"mypy is not installed ({error}): installing pure Python")
        return []
    root = Path(__file__).resolve().parent
    # mypyc names modules after their paths: give it the installed layout (acdgate/<folder>)
    tree = root / "build" / "mypyc-src"
    (tree / "acdgate").mkdir(parents=True, exist_ok=True)
    for folder in ("acd", "codecs", "console", "gateway", "lab"):
        link = tree / "acdgate" / folder
        if not link.exists():
            link.symlink_to(root / folder, target_is_directory=True)
    here = os.getcwd()
    os.chdir(tree)
    try:
        extensions: list[Any] = mypycify(
            ["--namespace-packages", "--explicit-package-bases", "--config-file", str(root / "pyproject.toml"),
             *(f"acdgate/{path}" for path in COMPILED)],
            target_dir=str(root / "build" / "mypyc"),
        )
    except SystemExit as error:  # mypyc exits on a type error; CI's compiled build would show it
        if mode == "required":
            raise
        _say(f"mypyc could not compile ({error}): installing pure Python")
        return []
    finally:
        os.chdir(here)
    return extensions


class _BuildExt(build_ext):
    """Builds the compiled modules all or none: without a C compiler or Python.h, in auto mode,
    the wheel is pure Python (a partial set would leave a module importing a missing group)."""

    mode = "pure"

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:  # CompileError, LinkError, DistutilsExecError, PlatformError
            if self.mode == "required":
                raise
            _say(f"the compiled build failed ({type(error).__name__}: {error}); installing pure "
                 "Python. For the compiled build install a C compiler and the Python headers "
                 "(Debian: apt-get install gcc python3-dev) and install again.")
            self.extensions = []
            self.distribution.ext_modules = []


_BuildExt.mode = _mode()
setup(
    ext_modules=[] if _BuildExt.mode == "pure" else _compiled_extensions(_BuildExt.mode),
    cmdclass={"build_ext": _BuildExt},
)
