"""``privmarket bench``: the performance targets, measured side by side.

One invocation runs every case: the vectorised model against the per-object
Mesa reference (:mod:`experiments.reference`) at 10k and 100k users (and the
reference once at 1M), and the vectorised model alone at 1M and 10M users, all
on the default world for 40 quarters. Each case runs in its own child process,
so that

* numpy is pinned to one thread (``OMP_NUM_THREADS=1`` and friends are set in
  the child's environment before numpy is imported; other variables, such as
  ``OPENBLAS_CORETYPE``, are passed on untouched);
* peak memory is the operating system's figure for that case alone
  (``resource.getrusage(RUSAGE_SELF).ru_maxrss`` in the child), and memory per
  user is the child's peak minus its resident size before the model was built,
  divided by the number of users;
* initialisation (building the world) and stepping are timed separately.

Repetitions are interleaved (every case once, then again) so that a burst of
load from elsewhere on the machine hits all cases alike, and medians are
reported. The command prints a table (figure, value, target, ratio, pass or
short), writes the same as JSON, and draws the log-log scaling figure (time per
quarter and memory against users, both implementations).

``--quick`` runs a small version in seconds (a smoke test for CI): sizes are
tiny, so its rows are labelled ``smoke`` rather than judged against targets.

The worker side is :func:`run_case`; ``python -m privmarket.experiments.bench --child
IMPL USERS QUARTERS SEED`` runs one case and prints its JSON record.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Set in every child before numpy loads: one BLAS/OpenMP thread.
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}

IMPLS = {
    "vectorised": "privmarket.sim.model:MarketModel",
    "reference": "privmarket.experiments.reference:ReferenceMarketModel",
}


@dataclass
class Plan:
    """Which cases to run, and which sizes the targets are judged at."""

    name: str
    quarters: int
    repeats: int
    cases: list[tuple[str, int, int]]  # (impl, users, repeats for this case)
    ratio_users: int  # vectorised against reference, per quarter
    wall_users: int  # one run under 10 s and 1.5 GB
    scale_users: int  # completes within 8 GB
    judged: bool = True
    timeout: float = 1800.0
    extra_ratio_users: list[int] = field(default_factory=list)


def _compared(users: int, repeats: int) -> list[tuple[str, int, int]]:
    """The cases of a size where the two implementations are compared: both, as often."""
    return [("vectorised", users, repeats), ("reference", users, repeats)]


def full_plan(repeats: int | None = None) -> Plan:
    """The performance cases (docs/performance.md). By default 5 repetitions where the two
    implementations are compared, 3 at 1M users, 2 at 10M and one reference run
    at 1M (about a minute and a GB); ``repeats`` sets them all (at most 2 at 10M)."""
    small = repeats or 5
    return Plan(
        name="full",
        quarters=40,
        repeats=small,
        cases=[
            *_compared(10_000, small),
            *_compared(100_000, small),
            ("vectorised", 1_000_000, repeats or 3),
            ("reference", 1_000_000, 1),
            ("vectorised", 10_000_000, min(repeats or 2, 2)),
        ],
        ratio_users=100_000,
        wall_users=1_000_000,
        scale_users=10_000_000,
        extra_ratio_users=[10_000, 1_000_000],
    )


def quick_plan(repeats: int = 1) -> Plan:
    return Plan(
        name="quick",
        quarters=8,
        repeats=repeats,
        cases=[*_compared(2_000, repeats), ("vectorised", 20_000, repeats)],
        ratio_users=2_000,
        wall_users=20_000,
        scale_users=20_000,
        judged=False,
        timeout=300.0,
    )


# ------------------------------------------------------------- child side
def _rss_now() -> int:
    """Resident set size of this process now, in bytes (Linux; else the peak so far)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return _rss_peak()


def _rss_peak() -> int:
    """Peak resident set size of this process, in bytes, from the OS."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def run_case(impl: str, users: int, quarters: int, seed: int) -> dict[str, Any]:
    """Build and run one model, timing initialisation and each quarter.

    Meant to run alone in a fresh process (see the module docstring): its peak
    memory is the process's.
    """
    import importlib

    module, cls_name = IMPLS[impl].split(":")
    cls = getattr(importlib.import_module(module), cls_name)
    # Warm up (lazy imports, scenario and parameter caches) on a tiny model, so
    # that the baseline below holds everything but the users.
    cls(n_users=200, quarters=1, rng=seed, growth_rate=0.0).run()
    gc.collect()
    base_rss = _rss_now()
    t0 = time.perf_counter()
    # A fixed population: the cases measure a quarter at a given number of users
    # (the default world grows, which would add users as the run goes on).
    model = cls(n_users=users, quarters=quarters, rng=seed, growth_rate=0.0)
    init_s = time.perf_counter() - t0
    # Time spent on the user side (the quarter's choices and the users' figures
    # the vendors weigh), the part the two implementations do differently.
    user_side = [0.0]
    market = model.user_market
    for name in ("choose", "privacy_totals"):
        method = getattr(market, name)

        def timed(*args, method=method):
            t = time.perf_counter()
            out = method(*args)
            user_side[0] += time.perf_counter() - t
            return out

        setattr(market, name, timed)
    steps = []
    for _ in range(quarters):
        t = time.perf_counter()
        model.step()
        steps.append(time.perf_counter() - t)
    peak = _rss_peak()
    pop = model.population
    return {
        "impl": impl,
        "users": users,
        "quarters": quarters,
        "seed": seed,
        "init_s": init_s,
        "run_s": sum(steps),
        "quarter_s": sum(steps) / quarters,
        "quarter_median_s": statistics.median(steps),
        "user_side_quarter_s": user_side[0] / quarters,
        "base_rss_bytes": base_rss,
        "peak_rss_bytes": peak,
        "bytes_per_user": (peak - base_rss) / users,
        "population_bytes": int(pop.nbytes) if hasattr(pop, "nbytes") else None,
        "edges": int(pop.indptr[-1]) if hasattr(pop, "indptr") else None,
        "exposure": model.exposure(),
        "active_vendors": int(sum(v.alive for v in model.vendor_list)),
        "threads": {k: os.environ.get(k) for k in THREAD_ENV},
    }


def _child_main(argv: list[str]) -> int:
    impl, users, quarters, seed = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    record = run_case(impl, users, quarters, seed)
    print("BENCH-RESULT " + json.dumps(record))
    return 0


# ------------------------------------------------------------ parent side
def spawn_case(impl: str, users: int, quarters: int, seed: int, timeout: float) -> dict[str, Any]:
    """Run one case in a fresh Python process pinned to one thread."""
    env = dict(os.environ)
    env.update(THREAD_ENV)
    cmd = [sys.executable, "-m", "privmarket.experiments.bench", "--child", impl, str(users)]
    cmd += [str(quarters), str(seed)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return _failed(impl, users, quarters, seed, f"timed out after {timeout:.0f} s")
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            record = json.loads(line.removeprefix("BENCH-RESULT "))
            record["process_s"] = time.perf_counter() - t0
            return record
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return _failed(impl, users, quarters, seed, f"exit {proc.returncode}: {tail}")


def _failed(impl: str, users: int, quarters: int, seed: int, error: str) -> dict[str, Any]:
    return {"impl": impl, "users": users, "quarters": quarters, "seed": seed, "error": error}


def summarise(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Medians per (implementation, users) over the repetitions that completed."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["impl"], r["users"]), []).append(r)
    out = []
    for (impl, users), rs in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        ok = [r for r in rs if "error" not in r]
        row: dict[str, Any] = {
            "impl": impl,
            "users": users,
            "repeats": len(rs),
            "completed": len(ok),
            "errors": [r["error"] for r in rs if "error" in r],
        }
        for key in (
            "init_s",
            "run_s",
            "quarter_s",
            "user_side_quarter_s",
            "peak_rss_bytes",
            "bytes_per_user",
            "process_s",
        ):
            vals = [r[key] for r in ok if r.get(key) is not None]
            row[key] = statistics.median(vals) if vals else None
        row["max_peak_rss_bytes"] = max((r["peak_rss_bytes"] for r in ok), default=None)
        pops = [r["population_bytes"] for r in ok if r.get("population_bytes")]
        row["population_bytes_per_user"] = pops[0] / users if pops else None
        row["wall_s"] = (
            row["init_s"] + row["run_s"] if row["init_s"] is not None else None
        )  # one run: build + all quarters
        out.append(row)
    return out


def _row(summary: list[dict[str, Any]], impl: str, users: int) -> dict[str, Any] | None:
    for r in summary:
        if r["impl"] == impl and r["users"] == users and r["completed"]:
            return r
    return None


def _target(
    figure: str,
    value: float | None,
    unit: str,
    target: str,
    ratio: float | None,
    judged: bool,
    ok: bool | None = None,
) -> dict[str, Any]:
    """One line of the targets table. ``ratio`` >= 1 means the target is met."""
    if not target:
        status = "info"
    elif not judged:
        status = "smoke"
    elif value is None:
        status = "short"
    else:
        status = "pass" if (ok if ok is not None else ratio is not None and ratio >= 1) else "short"
    return {
        "figure": figure,
        "value": value,
        "unit": unit,
        "target": target,
        "ratio": ratio,
        "status": status,
    }


def _info(figure: str, value: float | None, unit: str) -> dict[str, Any]:
    """A line of the targets table that reports a figure without a target to meet."""
    return _target(figure, value, unit, "", None, judged=False)


def _largest(summary: list[dict[str, Any]], impl: str) -> dict[str, Any] | None:
    """The completed case of ``impl`` with the most users, or None."""
    return max(
        (r for r in summary if r["impl"] == impl and r["completed"]),
        key=lambda r: r["users"],
        default=None,
    )


def _users_label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def paired_ratio(records: list[dict[str, Any]], users: int, key: str = "quarter_s") -> float | None:
    """Median over repetitions of reference / vectorised, each pair run back to back
    with the same seed (so that both saw much the same load on a shared machine)."""
    by_seed: dict[int, dict[str, float]] = {}
    for r in records:
        if r["users"] == users and "error" not in r:
            by_seed.setdefault(r["seed"], {})[r["impl"]] = r[key]
    ratios = [
        pair["reference"] / pair["vectorised"]
        for pair in by_seed.values()
        if "reference" in pair and "vectorised" in pair and pair["vectorised"] > 0
    ]
    return statistics.median(ratios) if ratios else None


def judge(
    summary: list[dict[str, Any]],
    plan: Plan,
    records: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The performance targets against the measured medians.

    Speed-ups are medians of paired ratios when the single runs (``records``)
    are given, and ratios of the medians otherwise.
    """

    def speedup(users: int, key: str) -> float | None:
        if records is not None:
            return paired_ratio(records, users, key)
        vec, ref = _row(summary, "vectorised", users), _row(summary, "reference", users)
        return ref[key] / vec[key] if vec and ref else None

    j, q = plan.judged, plan.quarters
    rows = []
    wall = _row(summary, "vectorised", plan.wall_users)
    lab = _users_label(plan.wall_users)
    w = wall["wall_s"] if wall else None
    rows.append(
        _target(
            f"{lab} users x {q} quarters, wall (build + run)",
            w,
            "s",
            "< 10 s",
            10 / w if w else None,
            j,
        )
    )
    whole = wall.get("process_s") if wall else None
    rows.append(
        _info(f"{lab} users, the whole process (start, imports, warm-up, build, run)", whole, "s")
    )
    peak = wall["peak_rss_bytes"] / 1e9 if wall else None
    rows.append(
        _target(
            f"{lab} users, peak memory (OS)",
            peak,
            "GB",
            "< 1.5 GB",
            1.5 / peak if peak else None,
            j,
        )
    )
    scale = _row(summary, "vectorised", plan.scale_users)
    lab = _users_label(plan.scale_users)
    sp = scale["max_peak_rss_bytes"] / 1e9 if scale else None
    rows.append(
        _target(
            f"{lab} users x {q} quarters completes, peak memory",
            sp,
            "GB",
            "< 8 GB",
            8 / sp if sp else None,
            j,
            ok=bool(scale and scale["completed"] == scale["repeats"] and sp < 8),
        )
    )
    for users in [plan.ratio_users, *plan.extra_ratio_users]:
        speed = speedup(users, "quarter_s")
        main = users == plan.ratio_users
        rows.append(
            _target(
                f"speed-up per quarter vs per-object Mesa, {_users_label(users)} users",
                speed,
                "x",
                ">= 30x" if main else "",
                speed / 30 if speed and main else None,
                j,
            )
        )
        if main:
            side = speedup(users, "user_side_quarter_s")
            rows.append(
                _info(f"speed-up of the user side alone, {_users_label(users)} users", side, "x")
            )
            init = speedup(users, "init_s")
            rows.append(
                _info(
                    f"speed-up of the build vs per-object Mesa, {_users_label(users)} users",
                    init,
                    "x",
                )
            )
    biggest = _largest(summary, "vectorised")
    if biggest:
        bpu = biggest["bytes_per_user"]
        rows.append(
            _target(
                f"memory per user, contacts included ({_users_label(biggest['users'])}, OS peak)",
                bpu,
                "B",
                "<= 150 B",
                150 / bpu if bpu and bpu > 0 else None,
                j,
            )
        )
        rows.append(
            _info(
                "memory per user held by the arrays (columns + contacts)",
                biggest["population_bytes_per_user"],
                "B",
            )
        )
    ref_big = _largest(summary, "reference")
    if ref_big:
        rows.append(
            _info(
                f"memory per user, per-object Mesa ({_users_label(ref_big['users'])}, OS peak)",
                ref_big["bytes_per_user"],
                "B",
            )
        )
    return rows


# ----------------------------------------------------------------- output
def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.1f}x"
    if unit == "B":
        return f"{value:.0f} B"
    if unit == "GB":
        return f"{value:.2f} GB"
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:g} {unit}"


def format_targets(rows: list[dict[str, Any]]) -> str:
    w = max([len(r["figure"]) for r in rows] + [6])
    head = f"{'figure':<{w}} {'value':>10} {'target':>9} {'ratio':>6}  status"
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "-"
        lines.append(
            f"{r['figure']:<{w}} {_fmt(r['value'], r['unit']):>10} {r['target'] or '-':>9} "
            f"{ratio:>6}  {r['status']}"
        )
    return "\n".join(lines)


def format_cases(summary: list[dict[str, Any]]) -> str:
    head = (
        f"{'implementation':<12} {'users':>11} {'reps':>5} {'build s':>9} {'ms/quarter':>11} "
        f"{'run s':>8} {'peak MB':>9} {'B/user':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in summary:
        if not r["completed"]:
            lines.append(f"{r['impl']:<12} {r['users']:>11,} failed: {'; '.join(r['errors'])}")
            continue
        lines.append(
            f"{r['impl']:<12} {r['users']:>11,} {r['completed']:>5} {r['init_s']:>9.3f} "
            f"{1e3 * r['quarter_s']:>11.2f} {r['run_s']:>8.2f} "
            f"{r['peak_rss_bytes'] / 1e6:>9.0f} {r['bytes_per_user']:>8.0f}"
        )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    from privmarket.experiments.runs import versions

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_bytes": ram,
        "system": f"{platform.system()} {platform.release()}",
        "versions": versions(),
        "thread_env": THREAD_ENV,
        "inherited_env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")},
    }


def scaling_figure(summary: list[dict[str, Any]], title: str = ""):
    """Log-log: time per quarter and memory against users, both implementations."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_t, ax_m = fig.subplots(1, 2)
    styles = {"vectorised": ("C0", "o"), "reference": ("C3", "s")}
    labels = {"vectorised": "vectorised (numpy columns)", "reference": "per-object Mesa agents"}
    for impl, (color, marker) in styles.items():
        rows = [r for r in summary if r["impl"] == impl and r["completed"]]
        if not rows:
            continue
        n = [r["users"] for r in rows]
        ax_t.plot(n, [r["quarter_s"] for r in rows], marker=marker, color=color, label=labels[impl])
        ax_t.plot(
            n,
            [r["init_s"] for r in rows],
            marker=marker,
            color=color,
            ls="--",
            mfc="none",
            label=f"{labels[impl]}: build",
        )
        ax_m.plot(
            n,
            [r["peak_rss_bytes"] / 1e6 for r in rows],
            marker=marker,
            color=color,
            label=f"{labels[impl]}: process peak",
        )
        ax_m.plot(
            n,
            [max(r["bytes_per_user"] * r["users"], 1) / 1e6 for r in rows],
            marker=marker,
            color=color,
            ls="--",
            mfc="none",
            label=f"{labels[impl]}: growth over start",
        )
    sizes = sorted({r["users"] for r in summary if r["completed"]})
    if sizes:
        ax_m.plot(
            sizes,
            [150 * n / 1e6 for n in sizes],
            color="0.5",
            ls=":",
            label="target: 150 bytes a user",
        )
    for ax in (ax_t, ax_m):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("users")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    ax_t.set_ylabel("seconds (solid: per quarter, dashed: build)")
    ax_m.set_ylabel("memory, MB (OS-measured)")
    ax_t.set_title("time")
    ax_m.set_title("memory")
    if title:
        fig.suptitle(title, fontsize="medium")
    return fig


def _write_atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: What marks a file as written by this command (a JSON key, a PNG text chunk).
WRITTEN_BY = "privmarket bench"


def is_bench_json(path: Path) -> bool:
    """Whether ``path`` is a results file an earlier ``privmarket bench`` wrote."""
    try:
        if path.stat().st_size > 100_000_000:
            return False
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    if not isinstance(data, dict):
        return False
    # files from before the marker key have these keys together
    return data.get("written_by") == WRITTEN_BY or {"mode", "machine", "targets", "runs"} <= set(
        data
    )


def is_bench_png(path: Path) -> bool:
    """Whether ``path`` is a figure an earlier ``privmarket bench`` drew (its PNG metadata)."""
    try:
        from PIL import Image

        with Image.open(path) as img:
            return img.format == "PNG" and img.info.get("Software") == WRITTEN_BY
    except Exception:  # not an image, or unreadable: not ours
        return False


def run_bench(
    plan: Plan,
    out: Path,
    figure: Path | None,
    progress=print,
) -> dict[str, Any]:
    """Run the plan, print the tables, write JSON and the figure; return the result."""
    records = []
    started = time.time()
    for rep in range(max(n for _, _, n in plan.cases)):
        for impl, users, reps in plan.cases:
            if rep >= reps:
                continue
            progress(f"  {impl:<10} {users:>11,} users, repetition {rep + 1}/{reps} ...")
            r = spawn_case(impl, users, plan.quarters, rep, plan.timeout)
            if "error" in r:
                progress(f"    failed: {r['error']}")
            else:
                progress(
                    f"    build {r['init_s']:.2f} s, {1e3 * r['quarter_s']:.2f} ms/quarter, "
                    f"peak {r['peak_rss_bytes'] / 1e6:.0f} MB"
                )
            records.append(r)
    summary = summarise(records)
    targets = judge(summary, plan, records)
    result = {
        "mode": plan.name,
        "quarters": plan.quarters,
        "repeats": plan.repeats,
        "scenario": "baseline",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "seconds": time.time() - started,
        "machine": machine(),
        "targets": targets,
        "cases": summary,
        "runs": records,
        "figure": str(figure) if figure else None,
        "written_by": WRITTEN_BY,
    }
    _write_atomic(out, lambda p: p.write_text(json.dumps(result, indent=2)))
    if figure:
        m = result["machine"]
        title = f"{m['cpu']}, {m['cores']} cores; numpy on one thread; {plan.quarters} quarters"
        fig = scaling_figure(summary, title)
        _write_atomic(
            figure,
            lambda p: fig.savefig(p, dpi=110, format="png", metadata={"Software": WRITTEN_BY}),
        )
    return result


# -------------------------------------------------------------------- CLI
def _bench(args: argparse.Namespace) -> int:
    """Measure speed and memory against the targets and a per-object Mesa model.

    Run the performance cases (vectorised model against a per-object Mesa
    reference at 10k and 100k users, vectorised alone at 1M and 10M), each in its
    own process with numpy on one thread; print a table of figure, value, target,
    ratio and pass/short; write it as JSON and draw the scaling figure. The full
    run takes a few minutes and about 1.5 GB of memory at its largest.
    """
    from privmarket.experiments.errors import UsageError

    if args.repeats is not None and args.repeats < 1:
        raise UsageError(f"--repeats {args.repeats}: must be at least 1")
    from privmarket.experiments.output import OutputFile

    out = Path(args.out)
    figure = None if args.no_figure else Path(args.figure or out.with_suffix(".png"))
    # refused before any case runs: a file that is not an earlier bench result, a folder,
    # a link; an earlier result is replaced only with --overwrite
    OutputFile.claim(out, "bench", is_bench_json, overwrite=args.overwrite, flag="--out")
    if figure:
        if figure.absolute() == out.absolute():
            raise UsageError(f"--figure {str(figure)!r} is the --out file; give another name")
        OutputFile.claim(figure, "bench", is_bench_png, overwrite=args.overwrite, flag="--figure")
    plan = quick_plan(args.repeats or 1) if args.quick else full_plan(args.repeats)
    m = machine()
    ram = f"{m['ram_bytes'] / 2**30:.0f} GiB RAM" if m["ram_bytes"] else "RAM unknown"
    print(
        f"privmarket bench ({plan.name}): baseline world, {plan.quarters} quarters, "
        f"numpy pinned to one thread\n  machine: {m['cpu']}, {m['cores']} cores, {ram}"
    )
    result = run_bench(plan, out, figure)
    print()
    print(format_cases(result["cases"]))
    print()
    print(format_targets(result["targets"]))
    print(f"\n  wrote {out}" + (f" and {figure}" if figure else ""))
    failed = [r for r in result["runs"] if "error" in r]
    if failed:
        print(
            f"privmarket bench: error: {len(failed)} of {len(result['runs'])} runs failed "
            f"(first: {failed[0]['impl']} at {failed[0]['users']:,} users: {failed[0]['error']})",
            file=sys.stderr,
        )
        return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from privmarket.experiments.cli_options import add_command

    p = add_command(sub, "bench", _bench)
    p.add_argument(
        "--quick", action="store_true", help="a small version that runs in seconds (CI smoke test)"
    )
    p.add_argument(
        "--out",
        metavar="FILE.json",
        default="out/bench.json",
        help="JSON results file (default: out/bench.json)",
    )
    p.add_argument(
        "--figure",
        metavar="FILE.png",
        help="scaling figure (default: the --out path with .png)",
    )
    p.add_argument("--no-figure", action="store_true", help="do not draw the scaling figure")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the JSON and figure of an earlier `privmarket bench` at those names",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="repetitions per case (default: 5 where the two implementations are compared, "
        "3 at 1M users, 2 at 10M; 1 with --quick); medians are reported",
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.exit(_child_main(sys.argv[2:]))
    from privmarket.experiments.cli import main

    sys.exit(main(["bench", *sys.argv[1:]]))
