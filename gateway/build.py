"""Which build of acdgate is running: pure Python, or with modules compiled by mypyc.

A wheel compiles the SIP hot path (setup.py); an editable install, or a machine without a C
compiler, runs it as Python. The two behave the same and differ in CPU a registration, so the
ready line and the start-up log say which one a lab is measuring.
"""

from __future__ import annotations

import importlib.machinery
import sys

__all__ = ["compiled_modules", "describe"]


def compiled_modules() -> list[str]:
    """The loaded acdgate modules that are C extensions, sorted."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return sorted(
        name for name, module in list(sys.modules.items())
        if name.startswith("acdgate.") and (getattr(module, "__file__", None) or "").endswith(suffixes)
    )


def describe() -> str:
    """"compiled with mypyc (N modules)" or "pure Python", for logs and the ready line."""
    compiled = compiled_modules()
    return f"compiled with mypyc ({len(compiled)} modules)" if compiled else "pure Python"
