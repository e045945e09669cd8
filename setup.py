"""Packaging is in setup.cfg; this file only adds the optional compiled build.

`ACDGATE_COMPILED=1 pip install --no-build-isolation .` (with mypy in the environment) compiles
the modules a REGISTER runs through with mypyc, the compiler mypy ships: the same typed Python,
as C extensions beside the .py files, which Python then imports first. Nothing else changes; a
plain or editable install stays pure Python (an editable install must not be compiled: a stale
extension would shadow the source being edited). scripts/compiled-build.sh builds one and runs
the SIP tests against it; bench/README.md has what it saves.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from setuptools import setup

# the registrar's hot path, from the datagram to the commit (mypyc compiles them as one group)
COMPILED = (
    "gateway/sip/register_scan.py",
    "gateway/sip/received.py",
    "gateway/sip/registrar.py",
    "gateway/sip/digest.py",
    "gateway/sip/stateless.py",
    "gateway/sip/auth_throttle.py",
    "gateway/sip/stack.py",
    "gateway/sip_service.py",
)


def _compiled_extensions() -> list[Any]:
    from mypyc.build import mypycify  # only for the compiled build: mypy must be installed

    root = Path(__file__).resolve().parent
    # mypyc names modules after their paths: give it the installed layout (acdgate/<folder>)
    tree = root / "build" / "mypyc-src"
    (tree / "acdgate").mkdir(parents=True, exist_ok=True)
    for folder in ("acd", "codecs", "gateway", "lab"):
        link = tree / "acdgate" / folder
        if not link.exists():
            link.symlink_to(root / folder, target_is_directory=True)
    here = os.getcwd()
    os.chdir(tree)
    try:
        return mypycify(
            ["--namespace-packages", "--explicit-package-bases", "--config-file", str(root / "pyproject.toml"),
             *(f"acdgate/{path}" for path in COMPILED)],
            target_dir=str(root / "build" / "mypyc"),
        )
    finally:
        os.chdir(here)


setup(ext_modules=_compiled_extensions() if os.environ.get("ACDGATE_COMPILED") == "1" else [])
