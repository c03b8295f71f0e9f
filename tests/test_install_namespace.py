"""Installed, privmarket is one package: nothing else lands at the top of site-packages.

Generic top-level names (``agents``, ``sim``, ``experiments``, ``dashboard``)
collide with other packages: the OpenAI Agents SDK installs a top-level
``agents``, and the other names are taken on PyPI. This test builds the real
wheel, installs it into a fresh virtual environment next to a package that
ships its own top-level ``agents`` module, and imports both.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _run(*cmd: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{cmd}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _source_copy(dest: Path) -> Path:
    """The files a wheel is built from, copied (a build writes build/ into its source)."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, dest / name)
    for folder in ("privmarket", "agents", "sim", "experiments", "dashboard"):
        shutil.copytree(REPO / folder, dest / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _wheel(source: Path, out: Path) -> Path:
    _run(sys.executable, "-m", "pip", "wheel", source, "--no-deps", "-q", "-w", out)
    (wheel,) = out.glob("*.whl")
    return wheel


def test_the_wheel_installs_only_privmarket_beside_another_top_level_agents(
    tmp_path: Path,
) -> None:
    source = _source_copy(tmp_path / "src")
    ours = _wheel(source, tmp_path / "ours")
    with zipfile.ZipFile(ours) as z:
        top = {name.split("/")[0] for name in z.namelist()}
    assert {t for t in top if not t.endswith(".dist-info")} == {"privmarket"}
    assert "privmarket/sim/scenarios/pakistan-2015.toml" in z.namelist()
    # the calibrated world ships with the package, and its out-of-sample posteriors too
    for name in (
        "world.toml",
        "posterior.parquet",
        "patterns.csv",
        "holdout/without-uk-2025.parquet",
    ):
        assert f"privmarket/sim/posterior/{name}" in z.namelist(), name
    assert "privmarket/experiments/calibration.toml" in z.namelist()

    other = tmp_path / "other-src"
    (other / "agents").mkdir(parents=True)
    (other / "agents" / "__init__.py").write_text("WHO = 'another package'\n")
    (other / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=77"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "other-agents"\nversion = "1.0"\n'
        '[tool.setuptools]\npackages = ["agents"]\n'
    )
    theirs = _wheel(other, tmp_path / "theirs")

    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    py = env / "bin" / "python"
    _run(py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", ours, theirs)
    site = Path(_run(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    installed = {p.name for p in site.iterdir() if not p.name.startswith(("_", "pip"))}
    assert installed - {"agents", "other_agents-1.0.dist-info"} == {
        "privmarket",
        "privmarket-0.1.0.dist-info",
    }
    # The libraries privmarket needs come from this environment, after the fresh
    # one's own packages (a .pth line adds a folder; its own .pth files are not read).
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    out = _run(
        py,
        "-c",
        "import agents, privmarket\n"
        "from privmarket.sim.model import MarketModel\n"
        "from privmarket.agents.vendor import Vendor\n"
        "assert agents.WHO == 'another package'\n"
        "assert privmarket.__file__.startswith(" + repr(str(site)) + ")\n"
        "m = MarketModel('pakistan-2015', rng=1, n_users=2000).run()\n"
        "print(m.quarter == m.params.quarters and 'BlackBerry.alive' in m.summary())\n",
        cwd=tmp_path,
    )
    assert out.strip() == "True"
    assert "privmarket" in _run(env / "bin" / "privmarket", "--version")
