"""The analysis notebooks: stored without outputs, public API only, and executed top to bottom.

Execution runs every notebook at the small size (``PRIVMARKET_NB_SIZE=small``)
in a Jupyter kernel started with this interpreter (a kernelspec written into a
temporary folder names ``sys.executable``), so the notebooks see exactly the
packages the tests do. A cell that raises fails the test.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO / "notebooks"
EXPECTED = [
    "01-quickstart.ipynb",
    "02-pakistan-2015.ipynb",
    "03-survival-map.ipynb",
    "04-platform-decline.ipynb",
]
SIZE_VARIABLE = "PRIVMARKET_NB_SIZE"
KERNEL_NAME = "privmarket-test"

#: The project modules notebooks may import: the public API.
PUBLIC_MODULES = (
    "privmarket.sim.model",
    "privmarket.sim.scenarios",
    "privmarket.sim.params",
    "privmarket.sim.plots",
    "privmarket.experiments.runs",
    "privmarket.experiments.calibrate",
    "privmarket.experiments.patterns",
    "privmarket.experiments.causes",
    "privmarket.agents.valuation",
    "privmarket.experiments.sweep.runner",
    "privmarket.experiments.sweep.store",
    "privmarket.experiments.analysis",
    "privmarket.experiments.ema",
)


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK_DIR / name, as_version=4)


def code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


# ------------------------------------------------------------ stored files
def test_the_four_notebooks_are_there() -> None:
    assert sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb")) == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_stored_without_outputs(name: str) -> None:
    """The storage policy: committed notebooks carry no outputs and no execution counts."""
    nb = read(name)
    nbformat.validate(nb)
    for i, cell in enumerate(code_cells(nb)):
        assert cell.outputs == [], f"{name}: code cell {i} has stored outputs; clear them"
        assert cell.execution_count is None, f"{name}: code cell {i} has an execution count"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", EXPECTED)
def test_opens_with_question_ends_with_computed_conclusion(name: str) -> None:
    nb = read(name)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and "**Question.**" in first.source
    last = code_cells(nb)[-1]
    # The conclusion is built from the notebook's own numbers (an f-string rendered
    # as Markdown), not prose written in advance.
    assert re.search(r"display\(\s*Markdown\(\s*f", last.source)
    assert any(c.cell_type == "markdown" and "## Conclusion" in c.source for c in nb.cells)


def _imports(source: str) -> set[str]:
    # IPython magics (%matplotlib) are not Python; drop them before parsing.
    text = "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )
    found = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("name", EXPECTED)
def test_uses_only_the_public_api(name: str) -> None:
    nb = read(name)
    used = set().union(*(_imports(c.source) for c in code_cells(nb)))
    ours = {m for m in used if m.split(".")[0] == "privmarket"}
    private = {m for m in ours if not any(m == p or m.startswith(p + ".") for p in PUBLIC_MODULES)}
    assert not private, f"{name} imports modules outside the public API: {sorted(private)}"
    assert ours, f"{name} imports nothing from the project"


@pytest.mark.parametrize("name", ["02-pakistan-2015.ipynb", "04-platform-decline.ipynb"])
def test_case_notebooks_show_posterior_prediction_and_causes(name: str) -> None:
    """The real cases' notebooks read the shipped posterior, predict out of sample from a
    posterior fitted without what they predict, and switch mechanisms off."""
    source = "\n".join(c.source for c in code_cells(read(name)))
    assert "posterior_sample()" in source
    holdout = re.search(r'posterior_sample\("(decline-2009-2012|without-[a-z0-9-]+)"\)', source)
    assert holdout, f"{name} makes no out-of-sample prediction from a held-out posterior"
    assert "counterfactuals(" in source, f"{name} has no causes table"


#: A name in bold followed by its interval: "**trust** (+0.33, 95% interval -0.12 to +0.70)".
NAMED_WITH_INTERVAL = re.compile(
    r"\*\*([^*]+)\*\*\s*\([^()]*?interval\s+([-+]?\d*\.?\d+)\s+to\s+([-+]?\d*\.?\d+)"
)


def spanning_zero(text: str) -> list[str]:
    """Names a conclusion sets in bold whose interval includes zero."""
    return [
        m.group(0)
        for m in NAMED_WITH_INTERVAL.finditer(text)
        if float(m.group(2)) <= 0 <= float(m.group(3))
    ]


def test_spanning_zero_finds_named_drivers_without_support() -> None:
    assert spanning_zero("carried by **trust** (+0.33, 95% interval -0.12 to +0.70).") == [
        "**trust** (+0.33, 95% interval -0.12 to +0.70"
    ]
    assert not spanning_zero("**R&D** (+4.1 points, 95% interval +1.2 to +7.0)")
    assert not spanning_zero("**growth** (-0.40, 95% interval -0.71 to -0.09)")
    assert not spanning_zero("largest point value: trust (+0.33, 95% interval -0.12 to +0.70)")


@pytest.mark.parametrize("name", EXPECTED)
def test_reads_the_size_switch_full_by_default(name: str) -> None:
    """The size comes from one variable, read first thing; without it a person gets full size."""
    first = code_cells(read(name))[0].source
    assert f'os.environ.get("{SIZE_VARIABLE}", "full")' in first


# --------------------------------------------------------------- execution
@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kernelspec that starts this very interpreter (the project's environment)."""
    root = tmp_path_factory.mktemp("kernels")
    spec = root / KERNEL_NAME
    spec.mkdir()
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "privmarket (tests)",
                "language": "python",
            }
        )
    )
    return root


def execute(nb: nbformat.NotebookNode, kernel_dir: Path, timeout: int = 600):
    """Run ``nb`` top to bottom in the notebooks folder; raises CellExecutionError.

    The kernel is shut down afterwards, whether the notebook passed or not.
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    km = AsyncKernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)]),
    )
    client = NotebookClient(
        nb,
        km=km,
        timeout=timeout,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    # A client given its kernel manager would leave the kernel running: clean up.
    client.execute(cleanup_kc=True)
    return nb


def _outputs(cell: nbformat.NotebookNode, kind: str) -> list[str]:
    out = []
    for o in cell.get("outputs", []):
        if kind == "stderr" and o.output_type == "stream" and o.name == "stderr":
            out.append(o.text)
        elif kind in o.get("data", {}):
            out.append(o["data"][kind])
    return out


@pytest.mark.notebooks
@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_runs_top_to_bottom(
    name: str, kernel_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv(SIZE_VARIABLE, "small")
    # Show every deprecation in the kernel; those raised from our code, the
    # notebook's own cells or Mesa fail the test (Mesa 4 removes what 3.5 warns of).
    monkeypatch.setenv("PYTHONWARNINGS", "default::DeprecationWarning,default::FutureWarning")
    nb = read(name)
    try:
        execute(nb, kernel_dir)
    except CellExecutionError as exc:
        pytest.fail(f"{name} raised in a cell:\n{exc}")
    cells = code_cells(nb)
    assert all(c.execution_count is not None for c in cells), "not every cell ran"
    stderr = "".join(t for c in cells for t in _outputs(c, "stderr"))
    ours = re.escape(str(REPO)) + r"/(?:agents|sim|experiments|dashboard)/\S+\.py"
    cell = r"ipykernel_\d+/\d+\.py"
    mesa = r"\S*/mesa/\S+\.py"  # Mesa reports its own deprecations from a wrapper of its own
    warned = re.findall(rf"(?:{ours}|{cell}|{mesa}):\d+: (?:Deprecation|Future)Warning.*", stderr)
    assert not warned, f"{name}: deprecation warnings from our code:\n" + "\n".join(warned)
    # Figures render, and the conclusion is there, computed, with numbers in it.
    assert sum(len(_outputs(c, "image/png")) for c in cells) >= 2
    conclusion = "".join(_outputs(cells[-1], "text/markdown"))
    assert re.search(r"\d", conclusion), f"{name}: no computed conclusion in the last cell"
    assert "{" not in conclusion, f"{name}: unformatted placeholder in the conclusion"
    # A driver is named (in bold) only when its interval excludes zero.
    assert not spanning_zero(conclusion), f"{name} names a driver whose interval spans zero"


@pytest.mark.notebooks
def test_kernel_is_this_interpreter(kernel_dir: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import sys, privmarket.sim\nprint(sys.executable)")]
    execute(nb, kernel_dir, timeout=120)
    printed = nb.cells[0].outputs[0].text.strip()
    assert Path(printed).resolve() == Path(sys.executable).resolve()


@pytest.mark.notebooks
@pytest.mark.parametrize("name", EXPECTED)
def test_unknown_size_is_refused(
    name: str, kernel_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv(SIZE_VARIABLE, "huge")
    nb = read(name)
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells = nb.cells[: first_code + 1]
    with pytest.raises(CellExecutionError, match=SIZE_VARIABLE):
        execute(nb, kernel_dir, timeout=120)
