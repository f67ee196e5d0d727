"""The packages' module graphs have no import circles (lazy imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _graph(package: str) -> dict[str, set[str]]:
    """Module -> the modules of the same package that it imports, at any depth of its code."""
    mods = {p.stem for p in (ROOT / package).glob("*.py")}
    dotted = package.replace("/", ".") + "."
    graph: dict[str, set[str]] = {}
    for m in mods:
        out: set[str] = set()
        for node in ast.walk(ast.parse((ROOT / package / f"{m}.py").read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1:
                    out |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
                elif node.level == 0 and node.module and node.module.startswith(dotted):
                    out.add(node.module[len(dotted) :].split(".")[0])
                elif node.level == 0 and node.module == dotted[:-1]:  # from archsim import api
                    out |= {a.name for a in node.names}
            elif isinstance(node, ast.Import):
                out |= {a.name[len(dotted) :].split(".")[0] for a in node.names if a.name.startswith(dotted)}
        graph[m] = (out & mods) - {m}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(m: str, path: list[str]) -> list[str] | None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return [*path[path.index(n) :], n]
            if n not in state and (found := visit(n, [*path, n])):
                return found
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m, [m])):
            return found
    return None


@pytest.mark.parametrize("package", ["rtl", "archsim", "archsim/blocks", "analysis", "trainer"])
def test_no_import_circle(package: str) -> None:
    graph = _graph(package)
    assert graph, package
    assert _cycle(graph) is None, f"{package}: import circle {' -> '.join(_cycle(graph) or [])}"


def test_the_check_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
