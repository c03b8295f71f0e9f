"""Which code produced a result: package versions and a digest of the model's source.

A run's numbers depend on the model's code (``privmarket.sim`` and
``privmarket.agents``) and on the libraries that draw and count (Mesa, numpy).
:func:`provenance` records both: the package versions, a SHA-256 digest of
every ``.py`` file of the two model packages as installed (sorted by path, so
the digest changes exactly when a file's bytes or name change), and, when the
code runs from a git checkout, the commit and whether the model's files differ
from it. A resumed sweep compares them with what the folder recorded
(:func:`code_changes`) and refuses to mix results of two versions of the model.

>>> sorted(provenance())[:3]
['git_commit', 'git_dirty', 'mesa']
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import platform
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: The packages whose source decides the model's numbers.
MODEL_PACKAGES = ("privmarket.sim", "privmarket.agents")
#: Entries of :func:`provenance` that must match for two runs to be comparable.
BINDING = ("privmarket", "model_source", "mesa", "numpy")


def versions() -> dict[str, str]:
    """Versions of the project and the libraries that shape its numbers."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("privmarket", "mesa", "numpy", "pandas", "pyarrow"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def package_dirs(packages: Iterable[str] = MODEL_PACKAGES) -> list[tuple[str, Path]]:
    """(package, folder) of each installed package, found without importing it."""
    out = []
    for name in packages:
        spec = importlib.util.find_spec(name)
        for loc in (spec.submodule_search_locations or []) if spec else []:
            out.append((name, Path(loc)))
    return out


def source_digest(dirs: Iterable[tuple[str, Path]]) -> str:
    """SHA-256 (first 16 hex digits) over every ``.py`` file below each folder, in path order."""
    h = hashlib.sha256()
    for name, root in sorted(dirs, key=lambda d: d[0]):
        for f in sorted(root.rglob("*.py"), key=lambda p: p.relative_to(root).as_posix()):
            if "__pycache__" in f.parts:
                continue
            rel = f.relative_to(root).as_posix()
            h.update(f"{name}/{rel}\0".encode())
            h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()[:16]


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state(dirs: list[tuple[str, Path]]) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout holding the model's source, or (None, None)."""
    if not dirs:
        return None, None
    root = dirs[0][1]
    top = _git(root, "rev-parse", "--show-toplevel")
    if not top:
        return None, None
    commit = _git(root, "rev-parse", "HEAD")
    status = _git(Path(top), "status", "--porcelain", "--", *[str(d) for _, d in dirs])
    return commit, (None if status is None else bool(status))


@functools.cache
def provenance() -> dict[str, Any]:
    """Versions of privmarket and its numeric libraries, the model's source digest, git state."""
    dirs = package_dirs()
    commit, dirty = git_state(dirs)
    return {
        **versions(),
        "model_source": source_digest(dirs),
        "git_commit": commit,
        "git_dirty": dirty,
    }


def code_changes(then: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """The binding entries that differ, as ``"key a -> b"`` (empty: the same code)."""
    return [
        f"{k} {then.get(k)} -> {now.get(k)}"
        for k in BINDING
        if k in then and then.get(k) != now.get(k)
    ]
