"""Which build runs (pure Python or mypyc-compiled) is told in the ready line and the log."""

from __future__ import annotations

import importlib.util
import re
import sys
import types

import pytest
from acdgate.gateway import build
from acdgate.lab.gateway_process import StartGateway


def _stack_is_compiled() -> bool:
    spec = importlib.util.find_spec("acdgate.gateway.sip.stack")
    assert spec is not None and spec.origin is not None
    return not spec.origin.endswith(".py")


def test_compiled_modules_are_the_extensions_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("acdgate.fake_compiled")
    fake.__file__ = "/x/acdgate/fake_compiled.cpython-311-x86_64-linux-gnu.so"
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    other = types.ModuleType("elsewhere.compiled")  # not acdgate's
    other.__file__ = "/x/elsewhere/compiled.cpython-311-x86_64-linux-gnu.so"
    monkeypatch.setitem(sys.modules, other.__name__, other)
    assert "acdgate.fake_compiled" in build.compiled_modules()
    assert "elsewhere.compiled" not in build.compiled_modules()
    assert build.describe().startswith("compiled with mypyc (")


@pytest.mark.slow
def test_ready_line_and_log_name_the_build(start_gateway: StartGateway) -> None:
    import acdgate.gateway.app  # noqa: F401  (this process loads what the gateway runs)

    here = build.describe()  # the gateway runs on this interpreter, so the same build
    assert here.startswith("compiled with mypyc (") == _stack_is_compiled()
    gw = start_gateway()
    assert gw.info["build"] == here
    gw.wait_for_output("acdgate build: " + re.escape(here))
