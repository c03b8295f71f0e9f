"""Sweep results on disk: a manifest plus Parquet chunks, written atomically; and the loaders.

Layout of a results folder::

    DIR/manifest.json                              the experiment, design, seeds, first versions
    DIR/journal.jsonl                              appended: sessions, chunks committed, status
    DIR/chunks/runs-SSSS-CCCCCC-HHHH.parquet       one row per run (a chunk of runs)
    DIR/chunks/series-SSSS-CCCCCC-HHHH.parquet     per-quarter rows of the same runs (if kept)
    DIR/damaged/                                   chunks found damaged, set aside on resume
    DIR/.privmarket-sweep.lock, .privmarket-sweep.holder.json   the lock of the runner at work

``manifest.json`` is written once, when the folder is created; what changes
(sessions, the status of each run, errors, the versions in use) is appended to
``journal.jsonl``, one JSON line per event, so a sweep of a million runs never
rewrites a large file. :func:`load_manifest` returns both merged into one dict.

A new folder is assembled beside its final name (manifest, journal, lock) and
renamed into place, so it appears whole. One runner at a time: the runner
holds a lock (``filelock``) on the folder while it works, and a second one is
refused with the holder's PID and host. Each session records the provenance of
the code (:mod:`privmarket.experiments.provenance`); a resume under different
model code is refused unless allowed.

``SSSS`` numbers the session (each ``privmarket sweep`` invocation on the
folder), ``CCCCCC`` the chunk within it and ``HHHH`` (16 hex digits) is the
start of the SHA-256 of the file's bytes. Every file is written to a hidden
temporary name and moved into place with :func:`os.replace`, so a killed
runner never leaves a half-written chunk or manifest. The runs chunk is the
commit point: a series chunk counts only if its runs chunk exists, and a run
is done when a runs chunk holds it. When a run appears in several chunks (a
failed run retried with ``--retry-failed``), the latest chunk wins.

Every chunk is checked when it is read: its bytes against the checksum in its
name, that it parses, that it was written for this folder's experiment (the
experiment fingerprint is in its Parquet metadata) and that its runs and seeds
are this experiment's. The loaders refuse a folder with a damaged or foreign
chunk (:class:`SweepDirError` naming the chunk); resuming the sweep sets a
damaged chunk aside (with its partner) and runs its runs again, and refuses a
foreign one. Chunks written before checksums (names without ``-HHHH``) are
read without the byte check.

Public loaders (the dashboard and notebooks use these):

* :func:`load_results` -- one row per run: ``run``, ``seed``, ``replicate``,
  ``point``, ``status``, ``error``, ``wall_seconds``, ``param.<path>`` per
  varied parameter, ``out.<outcome>`` per key of ``model.summary()``.
* :func:`load_series` -- per-quarter rows with ``run``, ``point``,
  ``replicate``, ``quarter`` and the kept columns (empty if none were kept).
* :func:`load_manifest` -- the manifest as a dict.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from privmarket.experiments.sweep.worker import ROW_COLUMNS

if TYPE_CHECKING:
    from privmarket.experiments.sweep.spec import Experiment

FORMAT = "privmarket-sweep/2"
#: Earlier formats the loaders still read (a manifest rewritten whole, no journal).
READABLE = ("privmarket-sweep/1", FORMAT)
MANIFEST = "manifest.json"
JOURNAL = "journal.jsonl"
LOCK = ".privmarket-sweep.lock"
HOLDER = ".privmarket-sweep.holder.json"
CHUNKS = "chunks"
#: Keys every manifest holds (a JSON file without them is not a sweep's manifest).
REQUIRED = ("format", "name", "n_runs", "n_points", "replicates", "seeds", "design", "fingerprints")
_CHUNK_RE = re.compile(r"^(runs|series)-(\d{4,})-(\d{6,})(?:-([0-9a-f]{16}))?\.parquet$")
DAMAGED = "damaged"
#: Parquet metadata key holding the fingerprint of the experiment a chunk belongs to.
FINGERPRINT_KEY = b"privmarket.experiment"
#: Parquet metadata key holding the digest of the model's source that made a chunk's runs.
CODE_KEY = b"privmarket.model_source"


class SweepDirError(OSError):
    """The results folder cannot be used for this experiment (the message says why)."""


class SweepBusy(SweepDirError):
    """Another runner holds the folder's lock."""


class CodeChanged(SweepDirError):
    """The folder holds runs of other model code; resuming would mix two versions."""


class DamagedChunkError(SweepDirError):
    """A chunk whose bytes are not what was written (truncated, corrupted, replaced)."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(
            f"chunk {path.name} in {str(path.parent.parent)!r} is damaged ({reason}); run "
            "`privmarket sweep` again with the same experiment file and --out: it sets the "
            "chunk aside and runs its runs again"
        )


class ForeignChunkError(SweepDirError):
    """A chunk that belongs to a different experiment than the folder's manifest."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(
            f"chunk {path.name} in {str(path.parent.parent)!r} belongs to a different experiment "
            f"than the folder's manifest ({reason}): the folder mixes two sweeps. Move that "
            "chunk out, or choose another --out"
        )


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ----------------------------------------------------------- atomic files
def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_json(path: Path, data: dict[str, Any]) -> None:
    _atomic_write(path, lambda p: p.write_text(json.dumps(data, indent=1, default=str)))


# --------------------------------------------------------------- columns
def _column(values: list[Any]) -> pa.Array:
    """A typed Arrow column from Python values (so every chunk types a column alike)."""
    present = [v for v in values if v is not None]
    if not present:
        return pa.nulls(len(values))
    if all(isinstance(v, bool) for v in present):
        return pa.array(values, type=pa.bool_())
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pa.array(values, type=pa.int64())
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pa.array([None if v is None else float(v) for v in values], type=pa.float64())
    if all(isinstance(v, str) for v in present):
        return pa.array(values, type=pa.string())
    # lists (e.g. a varied price triple) and anything else: as JSON text
    return pa.array(
        [None if v is None else json.dumps(v, default=str) for v in values], type=pa.string()
    )


def rows_to_table(rows: list[dict[str, Any]], param_names: list[str]) -> pa.Table:
    """Run rows as an Arrow table in the standard column order."""
    cols = list(ROW_COLUMNS) + [f"param.{p}" for p in param_names]
    seen = set(cols)
    for r in rows:
        for k in r:
            if k not in seen:
                seen.add(k)
                cols.append(k)
    return pa.table({c: _column([r.get(c) for r in rows]) for c in cols})


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow to pandas: ints and bools with gaps become nullable, not float/object."""
    out = {}
    for name in table.column_names:
        col = table.column(name)
        t = col.type
        if name in ("status", "error"):
            out[name] = pd.Series(col.to_pylist(), dtype="str")
        elif pa.types.is_null(t):
            out[name] = (
                pd.Series([float("nan")] * len(col), dtype="float64")
                if name.startswith("out.")
                else pd.Series([None] * len(col), dtype=object)
            )
        elif pa.types.is_integer(t) and col.null_count:
            out[name] = pd.Series(col.to_pylist(), dtype="Int64")
        elif pa.types.is_boolean(t) and col.null_count:
            out[name] = pd.Series(col.to_pylist(), dtype="boolean")
        else:
            out[name] = col.to_pandas()
    return pd.DataFrame(out, index=pd.RangeIndex(table.num_rows))


# -------------------------------------------------------------- the store
def _chunk_files(folder: Path, kind: str) -> list[tuple[int, int, Path]]:
    d = folder / CHUNKS
    if not d.is_dir():
        return []
    found = []
    for p in d.iterdir():
        m = _CHUNK_RE.match(p.name)
        if m and m.group(1) == kind:
            found.append((int(m.group(2)), int(m.group(3)), p))
    return sorted(found)


def _read_chunk(path: Path, manifest: dict[str, Any] | None) -> pa.Table:
    """A chunk's table, after checking its bytes, its format and whose experiment it is.

    Raises :class:`DamagedChunkError` or :class:`ForeignChunkError`; an ``OSError``
    reading the file (permissions, I/O) is passed on as it is.
    """
    data = path.read_bytes()
    m = _CHUNK_RE.match(path.name)
    digest = m.group(4) if m else None
    if digest is not None and hashlib.sha256(data).hexdigest()[:16] != digest:
        raise DamagedChunkError(
            path, f"its {len(data)} bytes do not match the checksum in its name"
        )
    try:
        table = pq.read_table(pa.BufferReader(data))
        if "run" not in table.column_names or not pa.types.is_integer(table.column("run").type):
            raise ValueError("no integer 'run' column")
    except Exception as exc:
        why = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise DamagedChunkError(
            path, f"not a readable chunk: {type(exc).__name__}{': ' + why if why else ''}"
        ) from None
    manifest = manifest or {}
    ours = (manifest.get("fingerprints") or {}).get("experiment")
    theirs = (table.schema.metadata or {}).get(FINGERPRINT_KEY)
    if ours and theirs is not None and theirs.decode(errors="replace") != ours:
        raise ForeignChunkError(
            path, f"experiment {theirs.decode(errors='replace')!r}, not {ours!r}"
        )
    seeds, n_runs = manifest.get("seeds"), manifest.get("n_runs")
    if m and m.group(1) == "runs" and seeds is not None and n_runs is not None:
        cols = ["run", "seed"] if "seed" in table.column_names else ["run"]
        for row in table.select(cols).to_pylist():
            r = row["run"]
            if r is None or not 0 <= r < n_runs:
                raise ForeignChunkError(path, f"it holds run {r}; this experiment has {n_runs}")
            if "seed" in row and row["seed"] != seeds[r]:
                raise ForeignChunkError(
                    path, f"its run {r} has seed {row['seed']}, this experiment's {seeds[r]}"
                )
    return table


def _partner(path: Path) -> Path | None:
    """The series chunk of a runs chunk, or the runs chunk of a series chunk (if present)."""
    m = _CHUNK_RE.match(path.name)
    if not m:
        return None
    other = "series" if m.group(1) == "runs" else "runs"
    for s, c, p in _chunk_files(path.parent.parent, other):
        if (s, c) == (int(m.group(2)), int(m.group(3))):
            return p
    return None


def _startup_leftovers_only(folder: Path) -> bool:
    """True if ``folder`` holds only what a runner killed in its first start-up leaves."""
    for p in folder.iterdir():
        if p.name.startswith(".") and ".tmp-" in p.name and p.is_file():
            continue
        if p.name in (LOCK, HOLDER) and p.is_file() and not p.is_symlink():
            continue
        if (
            p.name == CHUNKS
            and p.is_dir()
            and not p.is_symlink()
            and all(q.name.startswith(".") and ".tmp-" in q.name for q in p.iterdir())
        ):
            continue
        return False
    return True


def is_sweep_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / MANIFEST).is_file()


class ResultStore:
    """Writes one sweep's results folder; see the module docstring for the layout."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.manifest: dict[str, Any] | None = None
        self.session = 0
        self._seq = 0
        #: Damaged chunks found by :meth:`recorded` (path, why); :meth:`begin` sets them aside.
        self.damaged: list[tuple[Path, str]] = []
        #: Binding provenance entries that differ from the folder's (allowed by the caller).
        self.code_changes: list[str] = []
        self._lock: Any = None

    # -- before anything is written
    @classmethod
    def prepare(
        cls, path: str | os.PathLike, exp: Experiment, allow_code_change: bool = False
    ) -> ResultStore:
        """Check that ``path`` can hold ``exp``'s results now; write nothing."""
        from privmarket.experiments.runs import check_writable

        store = cls(path)
        p = store.path
        if p.is_symlink():
            raise SweepDirError(
                f"--out {str(p)!r} is a symbolic link; give the results folder itself"
            )
        check_writable(p)
        if p.exists():
            if (p / MANIFEST).is_file():
                store.manifest = load_manifest(p)
                store._check_same(exp)
                store._check_code(allow_code_change)
            elif not _startup_leftovers_only(p):
                raise SweepDirError(
                    f"{str(p)!r} exists and is not a sweep results folder (no {MANIFEST}); "
                    "choose another --out"
                )
            for sub in (CHUNKS, DAMAGED):
                if (p / sub).is_symlink() or ((p / sub).exists() and not (p / sub).is_dir()):
                    raise SweepDirError(
                        f"{str(p / sub)!r} is not a plain folder (a link or a file); "
                        "the results folder was changed by hand"
                    )
            if (p / CHUNKS).exists():
                check_writable(p / CHUNKS)
            holder = busy(p)
            if holder:
                raise SweepBusy(holder)
        return store

    def _check_same(self, exp: Experiment) -> None:
        m = self.manifest or {}
        fp = m.get("fingerprints", {})
        if m.get("format") != FORMAT:
            raise SweepDirError(
                f"{str(self.path)!r} holds results in format {m.get('format')!r}, "
                f"not {FORMAT!r} (an older privmarket wrote them; they can be read but not "
                "resumed); choose another --out"
            )
        if fp.get("experiment") != exp.fingerprint():
            raise SweepDirError(
                f"{str(self.path)!r} holds results of a different experiment "
                f"({m.get('name')!r} from {m.get('experiment_file')!r}); resuming needs the same "
                "scenario, parameters, design, replicates, quarters, seed and outputs. "
                "Choose another --out, or delete the folder to start again"
            )
        if fp.get("parameters") != exp.params_fingerprint():
            raise SweepDirError(
                f"{str(self.path)!r}: the parameters of scenario {exp.scenario!r} have changed "
                "since this sweep started (the model's defaults were edited), so resumed runs "
                "would not match; choose another --out"
            )
        if fp.get("design") != exp.design_fingerprint():
            raise SweepDirError(
                f"{str(self.path)!r}: the design's points differ from the stored ones (a "
                "different sampler version?), so resumed runs would not match; choose another --out"
            )

    def _check_code(self, allow: bool) -> None:
        """Refuse to add runs of other model code to this folder unless ``allow``."""
        from privmarket.experiments.provenance import code_changes, provenance

        now = provenance()
        changes: list[str] = []
        for then in (self.manifest or {}).get("versions_used", []):
            changes += [c for c in code_changes(then, now) if c not in changes]
        if changes and not allow:
            raise CodeChanged(
                f"{str(self.path)!r} holds runs of other code ({'; '.join(changes)}); resuming "
                "would mix two versions of the model in one result. Choose another --out, or "
                "give --allow-code-change to resume anyway (the manifest records every version)"
            )
        self.code_changes = changes

    def recorded(self) -> dict[int, str]:
        """Status of every run some intact committed chunk holds (the latest chunk wins).

        Damaged chunks (and their partners) are left out and listed in ``self.damaged``
        for :meth:`begin` to set aside; a chunk of another experiment raises
        :class:`ForeignChunkError` (nothing is changed).
        """
        damaged: dict[Path, str] = {}
        tables: list[pa.Table] = []
        for kind in ("series", "runs"):
            for _, _, f in _chunk_files(self.path, kind):
                try:
                    t = _read_chunk(f, self.manifest)
                except DamagedChunkError as exc:
                    damaged[f] = exc.reason
                    partner = _partner(f)
                    if partner is not None:
                        damaged.setdefault(partner, f"its partner {f.name} is damaged")
                    continue
                if kind == "runs":
                    tables.append((f, t))
        out: dict[int, str] = {}
        for f, t in tables:
            if f in damaged:
                continue
            for r, s in zip(
                t.column("run").to_pylist(), t.column("status").to_pylist(), strict=True
            ):
                out[int(r)] = s
        self.damaged = sorted(damaged.items())
        return out

    # -- writing
    def _new_manifest(self, exp: Experiment, seeds: list[int]) -> dict[str, Any]:
        from privmarket.experiments.provenance import provenance

        return {
            "format": FORMAT,
            "name": exp.name,
            "description": exp.description,
            "experiment_file": exp.source,
            "experiment_text": exp.text,
            "fingerprints": {
                "experiment": exp.fingerprint(),
                "parameters": exp.params_fingerprint(),
                "design": exp.design_fingerprint(),
            },
            "scenario": exp.scenario,
            "quarters": exp.quarters,
            "replicates": exp.replicates,
            "seed": exp.seed,
            "common_seeds": exp.common_seeds,
            "fixed": exp.fixed,
            "parameters": [v.canonical() for v in exp.varied],
            "design": {
                **exp.design.canonical(),
                "names": exp.parameter_names,
                "points": [[pt.get(n) for n in exp.parameter_names] for pt in exp.points],
                "unit": None if exp.unit is None else exp.unit.tolist(),
            },
            "series": exp.series,
            "analysis": exp.analysis,
            "n_points": exp.n_points,
            "n_runs": exp.n_runs,
            "seeds": seeds,
            "versions": provenance(),
            "started": now_iso(),
        }

    def lock(self, exp: Experiment, seeds: list[int]) -> None:
        """Take the folder's lock; a new folder is assembled beside and renamed into place.

        Raises :class:`SweepBusy` naming the holder if another runner has it. Under
        the lock the folder is checked again (it may have changed since
        :meth:`prepare`).
        """
        from filelock import Timeout

        p = self.path
        if not p.exists():
            try:
                p.absolute().parent.mkdir(parents=True, exist_ok=True)
                tmp = Path(tempfile.mkdtemp(prefix=f".{p.name}.tmp-", dir=p.absolute().parent))
            except OSError as exc:
                raise SweepDirError(f"cannot create {str(p)!r}: {exc.strerror}") from None
            lock = _file_lock(tmp / LOCK)
            try:
                lock.acquire(timeout=0)
                _write_holder(tmp)
                (tmp / CHUNKS).mkdir()
                manifest = self._new_manifest(exp, seeds)
                _write_json(tmp / MANIFEST, manifest)
                _atomic_write(tmp / JOURNAL, lambda f: f.write_text(""))
                os.rename(tmp, p)  # the folder appears whole, with its lock held
            except BaseException:
                if lock.is_locked:
                    lock.release()
                shutil.rmtree(tmp, ignore_errors=True)  # our own temporary folder
                if not p.exists():
                    raise
                # another runner created it first: take the existing-folder path below
            else:
                # the lock stays on the same open file, now at its final path
                self._lock, self.manifest = lock, manifest
                return
        lock = _file_lock(p / LOCK)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise SweepBusy(busy(p) or _busy_text(p, None)) from None
        except OSError as exc:
            raise SweepDirError(f"cannot lock {str(p)!r}: {exc.strerror or exc}") from None
        self._lock = lock
        try:
            _write_holder(p)
            if (p / MANIFEST).is_file():
                self.manifest = load_manifest(p)
                self._check_same(exp)
            else:
                self.manifest = None
        except BaseException:
            self.unlock()
            raise

    def unlock(self) -> None:
        """Release the lock (the holder file stays; it names the last holder)."""
        if self._lock is not None:
            with contextlib.suppress(OSError):
                self._lock.release()
            self._lock = None

    def begin(self, exp: Experiment, seeds: list[int], session: dict[str, Any]) -> None:
        """Record this session in the journal, with the runs the chunks hold (under the lock)."""
        from privmarket.experiments.provenance import provenance

        try:
            (self.path / CHUNKS).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SweepDirError(f"cannot create {str(self.path)!r}: {exc.strerror}") from None
        for stale in [
            *(self.path / CHUNKS).glob(".*.tmp-*"),
            *self.path.glob(f".{MANIFEST}.tmp-*"),
            *self.path.glob(f".{JOURNAL}.tmp-*"),
        ]:
            stale.unlink(missing_ok=True)
        set_aside = []
        for f, _ in self.damaged:
            if f.exists():
                (self.path / DAMAGED).mkdir(exist_ok=True)
                dest = self.path / DAMAGED / f.name
                k = 1
                while dest.exists():
                    k += 1
                    dest = self.path / DAMAGED / f"{f.stem}.{k}{f.suffix}"
                os.replace(f, dest)
                set_aside.append(f.name)
        if self.manifest is None:  # a folder left by a runner killed in its first start-up
            self.manifest = self._new_manifest(exp, seeds)
            _write_json(self.path / MANIFEST, self.manifest)
        if not (self.path / JOURNAL).exists():
            _atomic_write(self.path / JOURNAL, lambda f: f.write_text(""))
        existing = [s for s, _, _ in _chunk_files(self.path, "runs")]
        existing += [s for s, _, _ in _chunk_files(self.path, "series")]
        sessions = [e.get("session", 0) for e in _journal(self.path) if e.get("event") == "session"]
        self.session = (
            max([*sessions, *existing, len(self.manifest.get("sessions") or [])], default=0) + 1
        )
        event = {
            "event": "session",
            "session": self.session,
            "started": now_iso(),
            **session,
            "provenance": provenance(),
        }
        if set_aside:
            event["set_aside"] = set_aside
        if self.code_changes:
            event["code_changes"] = self.code_changes
        self._seq = 0
        self._append(event)

    def _append(self, event: dict[str, Any]) -> None:
        _append_line(self.path / JOURNAL, event)

    def reconcile(self, recorded: dict[int, str], errors: dict[int, str]) -> None:
        """Bring the journal in line with the chunks (the truth): append what differs."""
        m = load_manifest(self.path)
        status = m["status"]
        diff = {r: recorded.get(r, "missing") for r in range(len(status))}
        diff = {r: s for r, s in diff.items() if status[r] != s}
        if diff:
            self._append(
                {
                    "event": "status",
                    "session": self.session,
                    "status": {str(r): s for r, s in sorted(diff.items())},
                    "errors": {str(r): errors[r] for r in diff if r in errors},
                }
            )

    def write_chunk(
        self, rows: list[dict[str, Any]], series: list[pd.DataFrame], params: list[str]
    ) -> None:
        """Write one chunk of finished runs (series first, then the runs file that commits),
        then note it in the journal."""
        if not rows:
            return
        self._seq += 1
        stem = f"{self.session:04d}-{self._seq:06d}"
        if series:
            frame = pd.concat(series, ignore_index=True)
            self._write_table(f"series-{stem}", pa.Table.from_pandas(frame, preserve_index=False))
        name = self._write_table(f"runs-{stem}", rows_to_table(rows, params))
        self._append(
            {
                "event": "chunk",
                "session": self.session,
                "chunk": name,
                "ok": [r["run"] for r in rows if r["status"] == "ok"],
                "failed": {str(r["run"]): r["error"] for r in rows if r["status"] != "ok"},
            }
        )

    def _write_table(self, stem: str, table: pa.Table) -> str:
        """One chunk file: the experiment's fingerprint and the model's code digest in its
        metadata, its checksum in its name. Returns the file's name."""
        from privmarket.experiments.provenance import provenance

        fp = ((self.manifest or {}).get("fingerprints") or {}).get("experiment")
        meta = {
            **(table.schema.metadata or {}),
            CODE_KEY: str(provenance()["model_source"]).encode(),
        }
        if fp:
            meta[FINGERPRINT_KEY] = fp.encode()
        table = table.replace_schema_metadata(meta)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        data = sink.getvalue().to_pybytes()
        name = f"{stem}-{hashlib.sha256(data).hexdigest()[:16]}.parquet"
        _atomic_write(self.path / CHUNKS / name, lambda p: p.write_bytes(data))
        return name

    def end(self, final: dict[str, Any], complete: bool) -> None:
        """Close this session in the journal (and mark the sweep finished when complete)."""
        self._append({"event": "end", "session": self.session, "ended": now_iso(), **final})
        if complete and not load_manifest(self.path).get("finished"):
            self._append({"event": "finished", "session": self.session, "at": now_iso()})


# -------------------------------------------------------------- the journal
def _append_line(path: Path, event: dict[str, Any]) -> None:
    """Append one JSON line and sync it (a line cut by a kill is skipped by the reader)."""
    line = json.dumps(event, default=str, separators=(",", ":")) + "\n"
    with open(path, "ab") as fh:
        if fh.tell() > 0:
            with open(path, "rb") as rd:
                rd.seek(-1, os.SEEK_END)
                if rd.read(1) != b"\n":  # the previous writer was killed mid-line
                    fh.write(b"\n")
        fh.write(line.encode())
        fh.flush()
        os.fsync(fh.fileno())


def _journal(folder: Path) -> list[dict[str, Any]]:
    """The journal's events in order; lines that do not parse (cut by a kill) are skipped."""
    f = folder / JOURNAL
    if not f.is_file():
        return []
    events = []
    with open(f, "rb") as fh:
        for raw in fh:
            try:
                event = json.loads(raw)
            except (ValueError, RecursionError):
                continue
            if isinstance(event, dict):
                events.append(event)
    return events


# ------------------------------------------------------------------- locks
def _file_lock(path: Path) -> Any:
    """A ``filelock.FileLock`` on ``path`` that keeps the file when released."""
    from filelock import FileLock

    try:
        return FileLock(str(path), preserve_lock_file=True, thread_local=False)
    except TypeError:  # filelock 3: the file is kept anyway on POSIX
        return FileLock(str(path), thread_local=False)


def _write_holder(folder: Path) -> None:
    info = {"pid": os.getpid(), "host": socket.gethostname(), "since": now_iso()}
    _write_json(folder / HOLDER, info)


def _busy_text(folder: Path, info: dict[str, Any] | None) -> str:
    who = (
        f"PID {info.get('pid')} on host {info.get('host')!r}, since {info.get('since')}"
        if info
        else "a process that left no note"
    )
    return (
        f"{str(folder)!r} is being written by another `privmarket sweep` ({who}); wait for it "
        "to finish, or stop it, then run this command again"
    )


def busy(folder: Path) -> str | None:
    """If another runner holds the folder's lock, a one-line message naming it; else None."""
    from filelock import Timeout

    f = folder / LOCK
    if not f.is_file():
        return None
    probe = _file_lock(f)
    try:
        probe.acquire(timeout=0)
    except Timeout:
        try:
            info = json.loads((folder / HOLDER).read_text())
        except (OSError, ValueError):
            info = None
        return _busy_text(folder, info if isinstance(info, dict) else None)
    except OSError:
        return None  # cannot even open it: the writability checks report that
    probe.release()
    return None


def session_info(backend: Any) -> dict[str, Any]:
    return {
        "backend": backend.describe(),
        "workers": backend.workers,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }


# ---------------------------------------------------------------- loaders
def _read_manifest(f: Path, shown: str) -> dict[str, Any]:
    try:
        if f.stat().st_size > 2_000_000_000:
            raise SweepDirError(f"{shown!r} is too large to be a sweep manifest")
        data = json.loads(f.read_bytes().decode("utf-8"))
    except json.JSONDecodeError as exc:
        raise SweepDirError(f"{shown!r} is not valid JSON: {exc}") from None
    except (UnicodeDecodeError, RecursionError) as exc:
        why = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else "nested too deeply"
        raise SweepDirError(f"{shown!r} is not a sweep manifest ({why})") from None
    if not isinstance(data, dict) or data.get("format") not in READABLE:
        fmt = data.get("format") if isinstance(data, dict) else None
        raise SweepDirError(
            f"{shown!r} is not a privmarket sweep manifest (format {fmt!r}; expected {FORMAT!r})"
        )
    missing = [k for k in REQUIRED if k not in data]
    n = data.get("n_runs")
    if (
        missing
        or not isinstance(n, int)
        or not isinstance(data.get("seeds"), list)
        or len(data["seeds"]) != n
        or not isinstance(data.get("design"), dict)
        or not isinstance(data["design"].get("names"), list)
    ):
        raise SweepDirError(
            f"{shown!r} is a damaged sweep manifest"
            + (f" (no {', '.join(missing)})" if missing else " (its runs and seeds disagree)")
        )
    return data


def load_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The manifest of a results folder (``path`` is the folder or its manifest.json).

    The dict holds the manifest's fields and, from the journal: ``status`` (per
    run: ok, failed or missing), ``errors`` (of failed runs, by run as text),
    ``counts``, ``sessions``, ``finished`` and ``versions_used`` (every distinct
    provenance that wrote runs here, the first one first).
    """
    p = Path(path)
    f = p if p.name == MANIFEST and p.is_file() else p / MANIFEST
    if not f.is_file():
        raise SweepDirError(f"{str(path)!r} is not a sweep results folder (no {MANIFEST})")
    m = _read_manifest(f, str(f))
    if m["format"] != FORMAT:  # the first format kept everything in the manifest
        m.setdefault("versions_used", [m.get("versions", {})])
        return m
    n = m["n_runs"]
    status = ["missing"] * n
    errors: dict[str, str] = {}
    sessions: list[dict[str, Any]] = []
    used = [m.get("versions") or {}]
    finished = None

    def put(run: int, state: str, error: str | None = None) -> None:
        if isinstance(run, int) and 0 <= run < n:
            status[run] = state
            if state == "failed" and error is not None:
                errors[str(run)] = error
            else:
                errors.pop(str(run), None)

    for e in _journal(f.parent):
        kind = e.get("event")
        if kind == "session":
            sessions.append({k: v for k, v in e.items() if k != "event"} | {"ended": None})
            prov = e.get("provenance")
            if isinstance(prov, dict) and prov not in used:
                used.append(prov)
        elif kind == "chunk":
            for r in e.get("ok") or []:
                put(r, "ok")
            for r, err in (e.get("failed") or {}).items():
                put(int(r), "failed", err)
        elif kind == "status":
            errs = e.get("errors") or {}
            for r, state in (e.get("status") or {}).items():
                put(int(r), state, errs.get(r))
        elif kind == "end" and sessions:
            sessions[-1].update({k: v for k, v in e.items() if k not in ("event", "session")})
        elif kind == "finished":
            finished = e.get("at")
    m.update(
        status=status,
        errors=errors,
        counts={k: status.count(k) for k in ("ok", "failed", "missing")},
        sessions=sessions,
        finished=finished,
        versions_used=used,
    )
    return m


def _folder(path: str | os.PathLike) -> Path:
    p = Path(path)
    return p.parent if p.name == MANIFEST else p


def _committed_runs(
    folder: Path, manifest: dict[str, Any]
) -> tuple[pa.Table | None, dict[int, str]]:
    """All committed run rows (latest chunk per run) and which chunk (session-chunk) each is in."""
    tables = []
    for s, c, f in _chunk_files(folder, "runs"):
        t = _read_chunk(f, manifest)
        stem = f"{s:04d}-{c:06d}"
        tables.append(t.append_column("_chunk", pa.array([stem] * t.num_rows, pa.string())))
    if not tables:
        return None, {}
    table = pa.concat_tables(tables, promote_options="permissive")
    runs = table.column("run").to_pylist()
    chunks = table.column("_chunk").to_pylist()
    last: dict[int, int] = {}
    for i, r in enumerate(runs):
        last[int(r)] = i
    keep = sorted(last.values(), key=lambda i: runs[i])
    table = table.take(pa.array(keep, pa.int64()))
    return table, {int(runs[i]): chunks[i] for i in keep}


def load_results(path: str | os.PathLike, include_missing: bool = False) -> pd.DataFrame:
    """One row per recorded run, sorted by ``run`` (see the module docstring for columns).

    With ``include_missing``, runs not recorded yet appear too, with status
    ``"missing"`` and their design values, seed, point and replicate.
    """
    folder = _folder(path)
    manifest = load_manifest(folder)
    names = manifest["design"]["names"]
    table, _ = _committed_runs(folder, manifest)
    if table is None:
        df = pd.DataFrame({c: pd.Series(dtype=object) for c in ROW_COLUMNS})
        for n in names:
            df[f"param.{n}"] = pd.Series(dtype=object)
    else:
        df = _to_pandas(table.drop_columns(["_chunk"]))
    if include_missing:
        have = set(df["run"].tolist())
        reps = manifest["replicates"]
        extra = []
        for r in range(manifest["n_runs"]):
            if r in have:
                continue
            row = {
                "run": r,
                "point": r // reps,
                "replicate": r % reps,
                "seed": manifest["seeds"][r],
                "status": "missing",
            }
            row.update(
                {
                    f"param.{n}": v
                    for n, v in zip(names, manifest["design"]["points"][r // reps], strict=True)
                }
            )
            extra.append(row)
        if extra:
            df = pd.concat([df, pd.DataFrame(extra)], ignore_index=True)
            df = df.sort_values("run", kind="stable").reset_index(drop=True)
    params = [f"param.{n}" for n in names]
    first = [c for c in ROW_COLUMNS if c in df.columns] + [c for c in params if c in df.columns]
    rest = [c for c in df.columns if c not in first]
    df = df[first + rest]
    df.attrs["parameters"] = names
    df.attrs["design"] = manifest["design"]["kind"]
    return df


def load_series(path: str | os.PathLike) -> pd.DataFrame:
    """Per-quarter rows of every recorded run that kept its series (empty frame if none)."""
    folder = _folder(path)
    manifest = load_manifest(folder)
    _, chunk_of = _committed_runs(folder, manifest)
    frames = []
    for s, c, f in _chunk_files(folder, "series"):
        stem = f"{s:04d}-{c:06d}"
        mine = [r for r, k in chunk_of.items() if k == stem]
        if not mine:
            continue
        t = _read_chunk(f, manifest)
        mask = pc.is_in(t.column("run"), value_set=pa.array(mine, t.column("run").type))
        frames.append(t.filter(mask))
    if not frames:
        return pd.DataFrame(columns=["run", "point", "replicate", "quarter"])
    table = pa.concat_tables(frames, promote_options="permissive")
    df = table.to_pandas()
    return df.sort_values(["run", "quarter"], kind="stable").reset_index(drop=True)
