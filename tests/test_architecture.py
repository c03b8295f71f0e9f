"""The shape of the code: imports run one way, and no module imports itself in a circle.

Every import of a project module counts, whether at the top of a file, inside a
function, or only for type checking (``if TYPE_CHECKING:``): a circle hidden
behind any of them is still a circle for the reader who must change one side.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: Repository folder -> installed package.
PACKAGES = {
    "privmarket": "privmarket",
    "agents": "privmarket.agents",
    "sim": "privmarket.sim",
    "experiments": "privmarket.experiments",
    "dashboard": "privmarket.dashboard",
}


def module_files() -> dict[str, Path]:
    """Every project module, by its installed name."""
    out = {}
    for folder, package in PACKAGES.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([package, *parts])] = path
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules ``name`` imports, anywhere in its file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    pkg = pkg.rpartition(".")[0]
                base = f"{pkg}.{base}" if base else pkg
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for t in targets:
            # The longest known module the import names (a name imported from a
            # module counts as the module).
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {name: imports_of(name, path, known) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle, as the list of modules around it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_circle_type_only_and_local_imports_included() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_check_finds_a_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("layer", ["privmarket.agents", "privmarket.sim"])
def test_the_model_never_imports_experiments_or_the_dashboard(layer: str) -> None:
    graph = import_graph()
    for module, targets in graph.items():
        if module.startswith(layer + ".") or module == layer:
            bad = {
                t
                for t in targets
                if t.startswith(("privmarket.experiments", "privmarket.dashboard"))
            }
            assert not bad, f"{module} imports {sorted(bad)}"


def test_the_vocabulary_is_the_ground_floor() -> None:
    assert import_graph()["privmarket.sim.vocabulary"] == set()


def test_agents_see_the_market_through_the_view_not_the_model() -> None:
    graph = import_graph()
    for module, targets in graph.items():
        if module.startswith("privmarket.agents."):
            assert "privmarket.sim.model" not in targets, f"{module} imports the model"
