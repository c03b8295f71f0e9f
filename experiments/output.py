"""Output folders and files that never touch what a user keeps there.

Every command that writes results (``run``, ``calibrate``, ``analyze``,
``bench``; ``sweep`` keeps its own rules in :mod:`.sweep.store`) goes through
this module. The rules:

* A command writes only into a folder that does not exist, that is empty, or
  that holds an earlier output of the **same kind**, recognised by the marker
  file ``.privmarket-output.json`` the command wrote there (it lists the
  files written).
* It replaces only the files its marker lists, and only when asked
  (``--overwrite``). A user's own files in the folder are never changed.
* Everything else (a folder of other files, ``.``, ``..``, a symbolic link, a
  file where a folder should be, a folder of another kind of output) is refused
  with one line, **before any work** (:meth:`OutputFolder.claim`).
* Files are written into a fresh temporary folder first; a new folder is then
  renamed into place in one step, and in an existing folder each file is moved
  over (:meth:`OutputFolder.writing`). A failure or Ctrl-C leaves no partial
  output.

Typical use, with the claim made before the work so that a refusal costs
nothing::

    folder = OutputFolder.claim("out/calib", "calibrate", overwrite=args.overwrite)
    result = expensive_work()
    with folder.writing() as tmp:             # a temporary folder beside the target
        (tmp / "best_params.json").write_text(...)
    # here out/calib holds the files and the marker

Single-file outputs (``bench``'s JSON and PNG) follow the same rules through
:class:`OutputFile`: the file must not exist, or be one the command wrote
(recognised by its content), and it is replaced only with ``--overwrite``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

#: The file that marks a folder as an output of a privmarket command.
MARKER = ".privmarket-output.json"
_TMP_PREFIX = ".privmarket-tmp-"


class OutputError(OSError):
    """An output folder or file that may not be written (the message says why, in one line)."""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("privmarket")
    except PackageNotFoundError:
        return "unknown"


def _nearest_existing(path: Path) -> Path:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def _check_parent(path: Path, what: str) -> None:
    """The nearest existing ancestor of ``path`` must be a writable folder."""
    probe = _nearest_existing(path.absolute().parent)
    if not probe.is_dir():
        raise OutputError(
            f"cannot write {what} {str(path)!r}: {str(probe)!r} is not writable (a file, not a folder)"
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {what} {str(path)!r}: {str(probe)!r} is not writable")


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The marker of an output folder, or None if it has none (or an unreadable one)."""
    f = folder / MARKER
    if not f.is_file() or f.is_symlink():
        return None
    try:
        data = json.loads(f.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("privmarket") != "output":
        return None
    if not isinstance(data.get("kind"), str) or not isinstance(data.get("files"), list):
        return None
    if not all(
        isinstance(x, str) and x and "/" not in x and x not in (".", "..") for x in data["files"]
    ):
        return None
    return data


@dataclass
class OutputFolder:
    """A folder that a command of ``kind`` may write; see the module docstring."""

    path: Path
    kind: str
    overwrite: bool = False
    state: Literal["new", "empty", "ours"] = "new"
    previous: list[str] = field(default_factory=list)

    @classmethod
    def claim(
        cls, path: str | os.PathLike, kind: str, *, overwrite: bool = False, flag: str = "--out"
    ) -> OutputFolder:
        """Check, writing nothing, that ``kind`` output may go to ``path``; else :class:`OutputError`."""
        p = Path(path)
        where = f"{flag} {str(path)!r}"
        if p.is_symlink():
            raise OutputError(
                f"{where} is a symbolic link; give the folder itself (an output never "
                "writes through a link)"
            )
        if p.exists() and not p.is_dir():
            raise OutputError(f"{where}: a file of that name exists; give a folder")
        if not p.exists():
            _check_parent(p, "output folder")
            return cls(p, kind, overwrite, "new")
        if not os.access(p, os.W_OK | os.X_OK):
            raise OutputError(f"cannot write output folder {str(path)!r}: it is not writable")
        try:
            names = sorted(e.name for e in os.scandir(p))
        except OSError as exc:
            raise OutputError(f"{where}: cannot list it ({exc.strerror})") from None
        if not names:
            return cls(p, kind, overwrite, "empty")
        marker = read_marker(p)
        if marker is None:
            shown = ", ".join(repr(n) for n in names[:3]) + (" ..." if len(names) > 3 else "")
            raise OutputError(
                f"{where} holds files privmarket did not write ({shown}); give a new or "
                "empty folder (nothing was written)"
            )
        if marker["kind"] != kind:
            raise OutputError(
                f"{where} holds the output of `privmarket {marker['kind']}`, not of "
                f"`privmarket {kind}`; give another folder"
            )
        if not overwrite:
            raise OutputError(
                f"{where} holds an earlier `privmarket {kind}` output; add --overwrite to "
                "replace the files it wrote (other files are kept), or give another folder"
            )
        return cls(p, kind, overwrite, "ours", list(marker["files"]))

    def _marker(self, files: list[str]) -> str:
        return json.dumps(
            {
                "privmarket": "output",
                "kind": self.kind,
                "files": sorted(files),
                "written": datetime.now(UTC).isoformat(timespec="seconds"),
                "version": _version(),
            },
            indent=1,
        )

    @contextlib.contextmanager
    def writing(self) -> Iterator[Path]:
        """A temporary folder to write the output into; committed when the block ends well."""
        p = self.path
        if self.state == "new":
            try:
                p.absolute().parent.mkdir(parents=True, exist_ok=True)
                tmp = Path(tempfile.mkdtemp(prefix=f".{p.name}.tmp-", dir=p.absolute().parent))
            except OSError as exc:
                raise OutputError(
                    f"cannot write output folder {str(p)!r}: {exc.strerror}"
                ) from None
        else:
            try:
                tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=p))
            except OSError as exc:
                raise OutputError(
                    f"cannot write output folder {str(p)!r}: {exc.strerror}"
                ) from None
        try:
            yield tmp
            self._commit(tmp)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)  # our own temporary folder only

    def _commit(self, tmp: Path) -> None:
        names = sorted(e.name for e in os.scandir(tmp))
        if any((tmp / n).is_dir() for n in names) or MARKER in names:
            raise OutputError(f"internal: output for {str(self.path)!r} must be plain files")
        p = self.path
        if self.state == "new":
            (tmp / MARKER).write_text(self._marker(names))
            try:
                os.rename(tmp, p)  # one step: the folder appears whole
            except OSError:
                raise OutputError(
                    f"output folder {str(p)!r} appeared while this command ran; nothing "
                    "was written there"
                ) from None
            return
        previous = set(self.previous)
        in_the_way = [n for n in names if (p / n).exists() and n not in previous]
        if in_the_way or (self.state == "empty" and read_marker(p) is None and _foreign(p, tmp)):
            shown = ", ".join(repr(n) for n in (in_the_way or _foreign(p, tmp))[:3])
            raise OutputError(
                f"output folder {str(p)!r} now holds files privmarket did not write ({shown}); "
                "nothing was replaced"
            )
        # the marker first claims every file about to be written, then the files move in
        (tmp / MARKER).write_text(self._marker(sorted(previous | set(names))))
        os.replace(tmp / MARKER, p / MARKER)
        for n in names:
            os.replace(tmp / n, p / n)
        for stale in sorted(previous - set(names)):  # ours, from the earlier output
            target = p / stale
            if target.is_file() and not target.is_symlink():
                target.unlink()
        (tmp / MARKER).write_text(self._marker(names))
        os.replace(tmp / MARKER, p / MARKER)


def _foreign(folder: Path, tmp: Path) -> list[str]:
    """Entries of ``folder`` other than our temporary folder and marker."""
    return sorted(e.name for e in os.scandir(folder) if e.name not in (MARKER, tmp.name))


@dataclass
class OutputFile:
    """A single output file (``bench``'s JSON or figure); see the module docstring."""

    path: Path
    kind: str

    @classmethod
    def claim(
        cls,
        path: str | os.PathLike,
        kind: str,
        ours: Callable[[Path], bool],
        *,
        overwrite: bool = False,
        flag: str = "--out",
    ) -> OutputFile:
        """Check, writing nothing, that the file may be written; else :class:`OutputError`.

        ``ours(path)`` tells whether an existing file is an earlier output of this command.
        """
        p = Path(path)
        where = f"{flag} {str(path)!r}"
        if p.is_symlink():
            raise OutputError(f"{where} is a symbolic link; give a file name")
        if p.is_dir() or p.name in ("", ".", ".."):
            raise OutputError(f"{where}: is a folder, give a file name")
        if p.exists():
            if not p.is_file() or not ours(p):
                raise OutputError(
                    f"{where} exists and was not written by `privmarket {kind}`; "
                    "give another file name (nothing was written)"
                )
            if not overwrite:
                raise OutputError(
                    f"{where} holds an earlier `privmarket {kind}` result; add --overwrite "
                    "to replace it, or give another file name"
                )
            if not os.access(p, os.W_OK) or not os.access(p.parent, os.W_OK | os.X_OK):
                raise OutputError(f"{where}: the file is not writable")
            return cls(p, kind)
        _check_parent(p, "output file")
        return cls(p, kind)

    def write(self, write: Callable[[Path], Any], ours: Callable[[Path], bool]) -> None:
        """Write through ``write(temporary path)``, then move into place in one step."""
        p = self.path
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
        os.close(fd)
        tmp = Path(name)
        try:
            write(tmp)
            if p.exists() and (p.is_symlink() or not p.is_file() or not ours(p)):
                raise OutputError(
                    f"{str(p)!r} appeared while this command ran and was not written by "
                    f"`privmarket {self.kind}`; nothing was replaced"
                )
            os.replace(tmp, p)
        finally:
            tmp.unlink(missing_ok=True)
