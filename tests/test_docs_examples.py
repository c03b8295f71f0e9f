"""The examples of docs/python-api.md run as they are written.

Every ```python block of the page runs, in order, in one namespace, in a
temporary working folder, with warnings as errors (Mesa's and pandas' included).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parent.parent / "docs" / "python-api.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def blocks() -> list[str]:
    return BLOCK.findall(PAGE.read_text(encoding="utf-8"))


def test_the_page_has_examples() -> None:
    assert len(blocks()) >= 8


@pytest.mark.slow
def test_every_example_of_the_python_api_page_runs(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        warnings.simplefilter("error", FutureWarning)
        # EMA Workbench warns about its optional parallel back ends when imported.
        warnings.filterwarnings("ignore", message=".*ipyparallel.*")
        # pandas' deprecations raised inside EMA Workbench's own code, which we do not control
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="ema_workbench")
        for i, code in enumerate(blocks()):
            try:
                exec(compile(code, f"{PAGE.name} block {i}", "exec"), namespace)
            except Exception as exc:
                pytest.fail(f"block {i} of {PAGE.name} raised {exc!r}:\n{code}")
