"""The layers of docs/architecture.md, checked on the installed package.

Walks every module of the installed `acdgate` packages (the wheel's or the editable install's,
whichever this Python imports), reads each one's imports from its source (module level,
inside functions and under TYPE_CHECKING alike: a lazy import is still a dependency) and
fails on an import the architecture table does not allow, on an import cycle between modules,
on a package the table does not list, and on Twisted in the pure layers.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import re
from collections.abc import Mapping, Set
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"
ROOTS = ("acdgate.acd", "acdgate.codecs", "acdgate.console", "acdgate.gateway", "acdgate.lab")
PURE = ("acd", "codecs")  # sans-IO: no Twisted, no acdgate package


def layer_table(text: str) -> dict[str, set[str]]:
    """The Layers table: package -> the packages it may import."""
    table: dict[str, set[str]] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"`[a-z0-9_.]+`", cells[0]):
            table[cells[0].strip("`")] = set(re.findall(r"`([a-z0-9_.]+)`", cells[2]))
    return table


def _source(name: str) -> Path:
    origin = importlib.util.find_spec(name).origin  # type: ignore[union-attr]
    assert origin is not None, name
    path = Path(origin)
    if path.suffix != ".py":  # a mypyc-compiled module: its source lies beside the extension
        path = path.with_name(name.rsplit(".", 1)[-1] + ".py")
    return path


def installed_modules() -> dict[str, Path]:
    """Every module of the installed packages, with its source file."""
    found: dict[str, Path] = {}
    for root in ROOTS:
        package = importlib.import_module(root)
        found[root] = _source(root)
        for info in pkgutil.walk_packages(package.__path__, root + "."):
            found[info.name] = _source(info.name)
    return found


def imports_of(path: Path, modules: Set[str]) -> tuple[set[str], set[str]]:
    """(acdgate modules imported, other top-level packages imported) by the file at `path`."""
    ours: set[str] = set()
    others: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                (ours if alias.name.startswith("acdgate.") else others).add(
                    alias.name if alias.name.startswith("acdgate.") else alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not node.module.startswith("acdgate."):
                others.add(node.module.split(".")[0])
                continue
            for alias in node.names:  # `from acdgate.gateway import cli` imports a module
                sub = f"{node.module}.{alias.name}"
                ours.add(sub if sub in modules else node.module)
    return ours, others


def package_of(module: str, table: Mapping[str, object]) -> str | None:
    """The table row a module belongs to: the longest listed prefix of its name."""
    parts = module.split(".")[1:]  # without "acdgate"
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in table:
            return key
    return None


def cycles(edges: Mapping[str, Set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member, or a self-import (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def graph() -> tuple[dict[str, set[str]], dict[str, set[str]], dict[str, set[str]]]:
    """(table, module -> acdgate modules it imports, module -> other packages it imports)."""
    table = layer_table(DOC.read_text(encoding="utf-8"))
    modules = installed_modules()
    ours: dict[str, set[str]] = {}
    others: dict[str, set[str]] = {}
    for name, path in modules.items():
        ours[name], others[name] = imports_of(path, modules.keys())
    return table, ours, others


def test_the_table_lists_every_package_and_nothing_else(graph: tuple[dict[str, set[str]], ...]) -> None:
    table, ours, _ = graph
    unlisted = sorted(m for m in ours if package_of(m, table) is None)
    assert not unlisted, f"modules in no package of docs/architecture.md: {unlisted}"
    present = {package_of(m, table) for m in ours}
    assert set(table) <= present, f"listed but not in the tree: {sorted(set(table) - present)}"
    for allowed in table.values():
        assert allowed <= set(table), f"the table allows unknown packages: {sorted(allowed - set(table))}"


def test_imports_point_where_the_table_allows(graph: tuple[dict[str, set[str]], ...]) -> None:
    table, ours, _ = graph
    wrong = []
    for module, imported in sorted(ours.items()):
        mine = package_of(module, table)
        assert mine is not None
        for target in sorted(imported):
            theirs = package_of(target, table)
            if theirs is not None and theirs != mine and theirs not in table[mine]:
                wrong.append(f"{module} imports {target} ({mine} may import {sorted(table[mine])})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle_between_modules_or_packages(graph: tuple[dict[str, set[str]], ...]) -> None:
    table, ours, _ = graph
    assert cycles(ours) == []
    packages: dict[str, set[str]] = {}
    for module, imported in ours.items():
        mine = package_of(module, table)
        assert mine is not None
        packages.setdefault(mine, set()).update(
            p for p in (package_of(t, table) for t in imported) if p is not None and p != mine)
    assert cycles(packages) == []


def test_the_pure_layers_import_no_twisted_and_nothing_above(graph: tuple[dict[str, set[str]], ...]) -> None:
    table, ours, others = graph
    for module in ours:
        if package_of(module, table) in PURE:
            assert "twisted" not in others[module], f"{module} imports Twisted"
            assert {package_of(t, table) for t in ours[module]} <= {package_of(module, table)}, module


def test_gateway_keeps_only_four_modules_outside_its_subpackages(graph: tuple[dict[str, set[str]], ...]) -> None:
    _, ours, _ = graph
    top = sorted(m.rsplit(".", 1)[1] for m in ours
                 if m.count(".") == 2 and m.startswith("acdgate.gateway.")
                 and not hasattr(importlib.import_module(m), "__path__"))
    assert top == ["app", "build", "cli", "site_loader"]


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"a"}}) == [["a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_table_parser_reads_the_rows() -> None:
    table = layer_table("| package | holds | may import |\n| --- | --- | --- |\n"
                        "| `x.y` | things, `not.a.cell` | `a`, `b` |\n| `z` | z | (none) |\n")
    assert table == {"x.y": {"a", "b"}, "z": set()}
