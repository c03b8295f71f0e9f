"""Property-based attacks on experiment files: accepted ones run, rejected ones say why.

Hypothesis writes TOML experiment files from parts (scenario, fixed and varied
parameters in every form the runner accepts, each design kind, replicates,
seeds, outputs) and then damages them on purpose: unknown parameters, bad
ranges, unknown designs, values of the wrong type, broken TOML, unknown keys,
unknown scenarios, several mistakes at once, and random edits of the text.

* An accepted file runs through ``privmarket sweep`` (tiny sizes) and gives
  exactly one result row per planned run, every run ok, outcomes finite.
* A rejected file makes ``privmarket sweep`` exit with status 2 and a message
  that names the problem (and its line where there is one), with no traceback,
  and nothing is written: no results folder appears.

``PRIVMARKET_HARDENING=full`` runs many more examples (see docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from privmarket.experiments.cli import main
from privmarket.experiments.sweep.spec import DESIGNS, SpecError, load_experiment
from privmarket.experiments.sweep.store import load_manifest, load_results, load_series
from privmarket.sim.scenarios import list_scenarios

FULL = os.environ.get("PRIVMARKET_HARDENING", "").strip().lower() == "full"
#: Examples per property (CI, full form).
ACCEPTED_EXAMPLES = 80 if FULL else 12  # per design kind (6 kinds)
REJECTED_EXAMPLES = 300 if FULL else 30  # per kind of mistake (7 kinds)
SEVERAL_EXAMPLES = 300 if FULL else 30
MUTATED_EXAMPLES = 3000 if FULL else 300


def _settings(n: int):
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# Parameters every scenario has (vendors and countries by index or '*').
FLOATS: dict[str, tuple[float, float]] = {
    "hazard": (0.0, 1.0),
    "demand_rate": (0.0, 2.0),
    "privacy_salience": (0.0, 3.0),
    "b_contacts": (0.0, 5.0),
    "switching_cost": (0.0, 5.0),
    "contagion": (0.0, 2.0),
    "vendors.0.stance": (0.0, 1.0),
    "vendors.*.stance": (0.0, 1.0),
    "vendors.1.cash": (0.0, 5000.0),
    "countries.*.appetite": (0.0, 1.0),
    "countries.0.rule_of_law": (0.0, 1.0),
}
INTEGERS: dict[str, tuple[int, int]] = {
    "deadline_quarters": (0, 4),
    "loss_quarters": (1, 6),
    "contacts_mean_degree": (0, 12),
    "n_users": (20, 150),
}
CHOICES: dict[str, list[Any]] = {
    "vendors.0.strategy": ["principled", "expected_value", "adaptive"],
    "endogenous_demands": [True, False],
}
ALL_PATHS = sorted([*FLOATS, *INTEGERS, *CHOICES])
#: Paths whose range above is the parameter's whole allowed range.
BOUNDED = [
    "hazard",
    "vendors.0.stance",
    "vendors.*.stance",
    "countries.*.appetite",
    "countries.0.rule_of_law",
]
SERIES_COLUMNS = ["privacy_exposure", "hhi", "active_vendors", "demands", "bans"]
SUMMARY_KEYS = ["privacy_exposure", "hhi", "active_vendors", "bans"]


# ------------------------------------------------------------ writing TOML
def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # JSON string escapes are TOML basic-string escapes
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(v)


@dataclass
class Doc:
    """An experiment file as parts; ``render`` writes it and remembers each key's line."""

    top: dict[str, Any]
    fixed: dict[str, Any]
    varied: dict[str, Any]
    design: dict[str, Any]
    outputs: dict[str, Any]
    analysis: dict[str, Any]

    def render(self) -> tuple[str, dict[tuple[str, str], int]]:
        lines: list[str] = ["# written by a property-based test"]
        where: dict[tuple[str, str], int] = {}

        def put(section: str, key: str, value: Any, raw: str | None = None) -> None:
            k = json.dumps(key) if not key.replace("_", "").isalnum() else key
            lines.append(f"{k} = {raw if raw is not None else toml_value(value)}")
            where[(section, key)] = len(lines)

        for k, v in self.top.items():
            put("", k, v)
        for section in ("fixed", "varied", "design", "outputs", "analysis"):
            table = getattr(self, section)
            if not table:
                continue
            lines.append("")
            lines.append(f"[{section}]")
            where[(section, "")] = len(lines)
            for k, v in table.items():
                put(section, k, v)
        return "\n".join(lines) + "\n", where

    def copy(self) -> Doc:
        return Doc(
            dict(self.top),
            dict(self.fixed),
            dict(self.varied),
            dict(self.design),
            dict(self.outputs),
            dict(self.analysis),
        )


# -------------------------------------------------------- valid documents
def _round(x: float) -> float:
    return float(f"{x:.4g}")


@st.composite
def float_range(draw, path: str, sampled: bool) -> dict[str, Any]:
    lo, hi = FLOATS[path]
    a = _round(draw(st.floats(lo, hi)))
    b = _round(draw(st.floats(lo, hi)))
    if a == b:
        b = hi if a < hi else lo
    low, high = min(a, b), max(a, b)
    dists = ["uniform", "triangular", "normal"] + (["loguniform"] if low > 0 else [])
    dist = draw(st.sampled_from(dists))
    spec: dict[str, Any] = {"low": low, "high": high}
    if dist != "uniform" or draw(st.booleans()):
        spec["distribution"] = dist
    if dist == "triangular":
        spec["mode"] = _round(low + (high - low) * draw(st.floats(0, 1)))
        spec["mode"] = min(max(spec["mode"], low), high)
    if dist == "normal":
        spec["mean"] = _round((low + high) / 2)
        spec["sd"] = _round(max((high - low) * draw(st.floats(0.05, 1.0)), 1e-3))
    if not sampled:
        spec["steps"] = draw(st.integers(1, 3))
    return spec


@st.composite
def varied_spec(draw, path: str, sampled: bool) -> Any:
    if path in CHOICES:
        vals = draw(st.lists(st.sampled_from(CHOICES[path]), min_size=1, max_size=3, unique=True))
        return vals if draw(st.booleans()) else {"values": vals}
    if path in INTEGERS:
        lo, hi = INTEGERS[path]
        if draw(st.booleans()):
            return draw(st.lists(st.integers(lo, hi), min_size=1, max_size=3, unique=True))
        a, b = sorted(draw(st.lists(st.integers(lo, hi), min_size=2, max_size=2, unique=True)))
        spec: dict[str, Any] = {"low": a, "high": b}
        if not sampled:
            spec["steps"] = draw(st.integers(1, 3))
        return spec
    lo, hi = FLOATS[path]
    if draw(st.booleans()):
        vals = draw(st.lists(st.floats(lo, hi).map(_round), min_size=1, max_size=3, unique=True))
        return vals
    return draw(float_range(path, sampled))


@st.composite
def valid_docs(draw, kind: str | None = None) -> Doc:
    kind = kind or draw(st.sampled_from(DESIGNS))
    sampled = kind in ("lhs", "sobol", "saltelli", "morris")
    n_varied = draw(st.integers(1 if sampled else 0, 3 if kind != "grid" else 2))
    paths = draw(st.lists(st.sampled_from(ALL_PATHS), min_size=n_varied, max_size=n_varied))
    paths = [p for i, p in enumerate(paths) if not any(overlaps(p, q) for q in paths[:i])]
    if sampled and not paths:
        paths = ["hazard"]
    varied = {p: draw(varied_spec(p, sampled)) for p in paths}
    if kind == "oat":  # the base point: the scenario's value unless given (its n_users is big)
        for p, spec in list(varied.items()):
            if "*" in p or p == "n_users" or draw(st.booleans()):
                levels = spec if isinstance(spec, list) else spec.get("values")
                base = levels[0] if levels else spec["low"]
                varied[p] = {**({"values": levels} if levels else spec), "base": base}
    top: dict[str, Any] = {}
    if draw(st.booleans()):
        top["name"] = draw(st.sampled_from(["prop", "a b c", "ünïcode", "x-1"]))
    top["scenario"] = draw(st.sampled_from(list_scenarios()))
    top["quarters"] = draw(st.integers(1, 4))
    top["replicates"] = draw(st.integers(1, 2))
    top["seed"] = draw(st.one_of(st.integers(0, 1000), st.just(2**63 - 1)))
    if draw(st.booleans()):
        top["common_seeds"] = draw(st.booleans())
    fixed: dict[str, Any] = {}
    if "n_users" not in varied:
        fixed["n_users"] = draw(st.integers(20, 150))
    for p in draw(st.lists(st.sampled_from(sorted(FLOATS)), max_size=2, unique=True)):
        if not any(overlaps(p, v) for v in varied):
            fixed[p] = _round(draw(st.floats(*FLOATS[p])))
    design: dict[str, Any] = {"kind": kind}
    d = max(1, len(varied))
    if kind == "lhs":
        design["samples"] = draw(st.integers(1, 4))
    elif kind == "sobol":
        design["samples"] = draw(st.sampled_from([2, 4]))
    elif kind == "saltelli":
        design["samples"] = 2
        if d <= 2 and draw(st.booleans()):
            design["second_order"] = True
    elif kind == "morris":
        design["samples"] = draw(st.integers(1, 2))
        design["levels"] = draw(st.sampled_from([2, 4]))  # SALib warns on odd levels
    if kind in ("lhs", "sobol", "saltelli") and draw(st.booleans()):
        design["scramble"] = draw(st.booleans())
    outputs: dict[str, Any] = {}
    choice = draw(st.sampled_from(["none", "all", "some"]))
    if choice == "all":
        outputs["series"] = True
    elif choice == "some":
        outputs["series"] = draw(
            st.lists(st.sampled_from(SERIES_COLUMNS), min_size=1, max_size=3, unique=True)
        )
    analysis: dict[str, Any] = {}
    if draw(st.booleans()):
        analysis["outcome"] = draw(st.sampled_from(SUMMARY_KEYS))
    return Doc(top, fixed, varied, design, outputs, analysis)


def overlaps(a: str, b: str) -> bool:
    """Whether two paths set a common value ("vendors.*.stance" and "vendors.0.stance").

    A file that gives both (fixed and varied, or varied twice) is refused: which
    value would the model run? So the generated valid files never hold such a pair.
    """
    pa, pb = a.split("."), b.split(".")
    if a == b:
        return True
    return len(pa) == len(pb) == 3 and pa[0] == pb[0] and pa[2] == pb[2] and "*" in (pa[1], pb[1])


def _levels_count(path: str, spec: Any) -> int:
    """Grid levels of one varied parameter, computed here, independently of the runner."""
    if isinstance(spec, list):
        return len(spec)
    if "values" in spec:
        return len(spec["values"])
    n, low, high = spec["steps"], spec["low"], spec["high"]
    dist = spec.get("distribution", "uniform")
    if path in INTEGERS:
        raw = np.geomspace(low, high, n) if dist == "loguniform" else np.linspace(low, high, n)
        return len({math.floor(x + 0.5) for x in raw})
    return n


def planned_runs(doc: Doc) -> int:
    """Runs the file asks for, from the formulas in docs/sweeps.md."""
    kind, varied = doc.design["kind"], doc.varied
    d = len(varied)
    if kind == "grid":
        points = math.prod(_levels_count(p, s) for p, s in varied.items())
    elif kind == "oat":
        points = 1 + sum(_levels_count(p, s) for p, s in varied.items())
    elif kind in ("lhs", "sobol"):
        points = doc.design["samples"]
    elif kind == "saltelli":
        points = doc.design["samples"] * ((2 * d + 2) if doc.design.get("second_order") else d + 2)
    else:
        points = doc.design["samples"] * (d + 1)
    return points * doc.top.get("replicates", 1)


# ------------------------------------------------------------------ helpers
def sweep(args: list[str]) -> tuple[int, str, str]:
    """``privmarket sweep ARGS`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["sweep", *args])
    return code, out.getvalue(), err.getvalue()


def assert_refused(folder: Path, text: str, fragments: list[str], line: int | None):
    """``privmarket sweep`` refuses ``text``: status 2, the fragments named, nothing written."""
    exp = folder / "exp.toml"
    exp.write_text(text, encoding="utf-8")
    out = folder / "results"
    code, stdout, err = sweep([str(exp), "--out", str(out), "--backend", "serial"])
    assert code == 2, (code, stdout, err, text)
    assert err.startswith("privmarket sweep: error: "), err
    assert "Traceback" not in err and "Traceback" not in stdout
    for frag in fragments:
        assert frag in err, (frag, err, text)
    if line is not None:
        assert f"line {line}:" in err, (line, err, text)
    assert not out.exists(), "a rejected experiment wrote a results folder"
    assert sorted(p.name for p in folder.iterdir()) == ["exp.toml"]
    return err


def check_results(out: Path, n_runs: int, series: Any, quarters: int) -> None:
    df = load_results(out)
    assert len(df) == n_runs, (len(df), n_runs)
    assert df["run"].tolist() == list(range(n_runs))
    assert (df["status"] == "ok").all(), df.loc[df["status"] != "ok", "error"].tolist()
    outs = [c for c in df.columns if c.startswith("out.")]
    assert {"out.privacy_exposure", "out.hhi", "out.active_vendors"} <= set(outs)
    for c in outs:
        if c.endswith(".exit_quarter"):  # empty for a vendor that never left
            ok = df[c].dropna()
            assert ((ok >= 0) & (ok <= quarters)).all(), c
            continue
        values = df[c].to_numpy()
        assert values.dtype.kind in "fiub", (c, values.dtype)
        assert np.isfinite(values.astype(float)).all(), c
    assert df["out.privacy_exposure"].between(0, 1).all()
    m = load_manifest(out)
    assert m["n_runs"] == n_runs and m["counts"] == {"ok": n_runs, "failed": 0, "missing": 0}
    assert not [p for p in (out / "chunks").iterdir() if p.name.startswith(".")]
    per_quarter = load_series(out)
    if series:
        assert len(per_quarter) == n_runs * (quarters + 1)
        if isinstance(series, list):
            assert list(per_quarter.columns) == ["run", "point", "replicate", "quarter", *series]
    else:
        assert per_quarter.empty


# --------------------------------------------------------------- properties
@pytest.mark.parametrize("kind", DESIGNS)
@_settings(ACCEPTED_EXAMPLES)
@given(data=st.data())
def test_accepted_experiment_files_run_one_row_per_planned_run(kind, data):
    doc = data.draw(valid_docs(kind))
    text, _ = doc.render()
    expected = planned_runs(doc)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        exp = folder / "exp.toml"
        exp.write_text(text, encoding="utf-8")
        code, out, err = sweep([str(exp), "--check"])
        assert code == 0, (err, text)
        assert f"= {expected} runs" in out, (out, text)
        assert sorted(q.name for q in folder.iterdir()) == ["exp.toml"]
        code, out, err = sweep(
            [str(exp), "--out", str(folder / "res"), "--backend", "serial", "--no-progress"],
        )
        assert code == 0, (out, err, text)
        assert f"{expected} ok, 0 failed, 0 missing, of {expected} runs" in out
        check_results(folder / "res", expected, doc.outputs.get("series"), doc.top["quarters"])


MISTAKES = (
    "unknown-parameter",
    "bad-range",
    "unknown-design",
    "wrong-type",
    "bad-toml",
    "unknown-key",
    "unknown-scenario",
)


@st.composite
def damaged(draw, kind: str) -> tuple[str, list[str], int | None]:
    """A valid document damaged in one way: (text, message fragments, line or None)."""
    doc = draw(valid_docs()).copy()
    if kind == "unknown-parameter":
        real = draw(st.sampled_from(ALL_PATHS))
        head, _, field = real.rpartition(".")
        bad = draw(
            st.sampled_from(
                [
                    real + "x",
                    (head + "." if head else "") + field[:-1],
                    "vendors.Nobody.stance",
                    "countries.99.appetite",
                    "vendors.0.stance.extra",
                    "hazzard",
                ]
            )
        )
        section = draw(st.sampled_from(["fixed", "varied"]))
        value = 0.5 if section == "fixed" else [0.1, 0.2]
        getattr(doc, section)[bad] = value
        text, where = doc.render()
        return text, [bad], where[(section, bad)]
    if kind == "bad-range":
        form = draw(st.sampled_from(["reversed", "equal", "outside", "log0", "nosteps", "nosd"]))
        path = draw(st.sampled_from(BOUNDED if form == "outside" else sorted(FLOATS)))
        lo, hi = FLOATS[path]
        doc.fixed = {k: v for k, v in doc.fixed.items() if not overlaps(k, path)}
        doc.varied = {k: v for k, v in doc.varied.items() if k == path or not overlaps(k, path)}
        grid = doc.design["kind"] in ("grid", "oat")
        steps = {"steps": 2} if grid else {}
        frag = {
            "reversed": "must be below",
            "equal": "must be below",
            "outside": "not allowed",
            "log0": "loguniform range needs low > 0",
            "nosteps": "needs steps",
            "nosd": "normal distribution needs mean and sd",
        }[form]
        if form == "reversed":
            spec: Any = {"low": hi, "high": lo, **steps}
        elif form == "equal":
            spec = {"low": lo, "high": lo, **steps}
        elif form == "outside":
            spec = [lo, hi + draw(st.sampled_from([0.5, 10.0, 1e9]))]
        elif form == "log0":
            spec = {"low": 0.0, "high": hi, "distribution": "loguniform", **steps}
        elif form == "nosteps":
            doc.design = {"kind": draw(st.sampled_from(["grid", "oat"]))}
            doc.varied = {k: v for k, v in doc.varied.items() if isinstance(v, list)}
            spec = {"low": lo, "high": hi}
        else:
            spec = {"low": lo, "high": hi, "distribution": "normal", "mean": lo, **steps}
        doc.varied[path] = spec
        text, where = doc.render()
        return text, [path, frag], where[("varied", path)]
    if kind == "unknown-design":
        word = draw(
            st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
                lambda w: w not in DESIGNS
            )
        )
        doc.design["kind"] = word
        text, where = doc.render()
        return (
            text,
            [repr(word), "grid, oat, lhs, sobol, saltelli, morris"],
            where[("design", "kind")],
        )
    if kind == "wrong-type":
        choices = [
            ("", "replicates", draw(st.sampled_from(["two", 0, 1.5, -1, True]))),
            ("", "seed", draw(st.sampled_from([-1, "x", 1.5, 2**63]))),
            ("", "quarters", draw(st.sampled_from([0, 401, "4", 2.0]))),
            ("", "common_seeds", draw(st.sampled_from(["yes", 1]))),
            ("fixed", "n_users", draw(st.sampled_from(["many", 0, 2.5, [10]]))),
            ("fixed", "hazard", draw(st.sampled_from(["high", [0.1, 0.2], 1.5, -0.1]))),
            ("outputs", "series", draw(st.sampled_from([5, "all", [1, 2], []]))),
            ("varied", "hazard", draw(st.sampled_from([3, "x", [], {"low": "a", "high": 1}]))),
        ]
        section, key, value = draw(st.sampled_from(choices))
        if section == "varied":
            doc.fixed.pop(key, None)
        if section == "fixed":
            doc.varied.pop(key, None)
        (getattr(doc, section) if section else doc.top)[key] = value
        text, where = doc.render()
        return text, [key], where[(section, key)]
    if kind == "bad-toml":
        text, where = doc.render()
        lines = text.splitlines()
        line = where[("", "scenario")]
        form = draw(st.sampled_from(["duplicate", "novalue", "unterminated", "junk"]))
        if form == "duplicate":
            lines.insert(line, lines[line - 1])
            line += 1
        elif form == "novalue":
            lines[line - 1] = "scenario ="
        elif form == "unterminated":
            lines[line - 1] = 'scenario = "baseline'
        else:
            lines[line - 1] = draw(st.sampled_from(["= 3", "[fixed", "scenario == 1", "a b = 1"]))
        return "\n".join(lines) + "\n", ["not valid TOML"], line
    if kind == "unknown-key":
        section, key = draw(
            st.sampled_from(
                [("", "replicate"), ("", "seeds"), ("design", "kinds"), ("outputs", "serie")]
            )
        )
        (getattr(doc, section) if section else doc.top)[key] = 1
        text, where = doc.render()
        return (
            text,
            [f"unknown key {key!r}" if not section else f"{section}.{key}"],
            where[(section, key)],
        )
    # unknown scenario
    name = draw(st.sampled_from(["atlantis", "Baseline", "", "pakistan"]))
    doc.top["scenario"] = name
    text, where = doc.render()
    return text, [f"scenario = {name!r}: unknown scenario"], where[("", "scenario")]


@pytest.mark.parametrize("kind", MISTAKES)
@_settings(REJECTED_EXAMPLES)
@given(data=st.data())
def test_rejected_experiment_files_name_the_problem_and_write_nothing(kind, data):
    text, fragments, line = data.draw(damaged(kind))
    with tempfile.TemporaryDirectory() as tmp:
        assert_refused(Path(tmp), text, fragments, line)


@_settings(SEVERAL_EXAMPLES)
@given(doc=valid_docs(), data=st.data())
def test_several_mistakes_are_reported_together(doc, data):
    """An unknown parameter, an out-of-range value and an unknown design, all in one message."""
    doc = doc.copy()
    doc.fixed["vendors.0.stanse"] = 0.5
    doc.top["replicates"] = data.draw(st.sampled_from([0, "x"]))
    doc.design = {"kind": "factorial"}
    doc.varied = {k: v for k, v in doc.varied.items() if k != "hazard"}
    doc.varied["hazard"] = [0.5, 2.0]
    doc.fixed.pop("hazard", None)
    text, where = doc.render()
    with tempfile.TemporaryDirectory() as tmp:
        err = assert_refused(Path(tmp), text, [], None)
    assert "has 4 problems" in err, err
    for section, key, frag in (
        ("fixed", "vendors.0.stanse", "vendors.0.stanse"),
        ("", "replicates", "replicates"),
        ("design", "kind", "'factorial'"),
        ("varied", "hazard", "2.0"),
    ):
        assert f"line {where[(section, key)]}: " in err and frag in err, (frag, err)


# No digits: an inserted digit can turn ``samples = 4`` into a design of millions of points.
_EDIT_CHARS = st.sampled_from(list("[]{}=\"'.,#\n -eaxtrusf_"))


@st.composite
def edited_text(draw) -> str:
    """A valid file's text after a few random character or line edits."""
    text, _ = draw(valid_docs()).render()
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "replace", "dupline", "dropline"]))
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        if op == "delete":
            text = text[:i] + text[i + 1 :]
        elif op == "insert":
            text = text[:i] + draw(_EDIT_CHARS) + text[i:]
        elif op == "replace":
            text = text[:i] + draw(_EDIT_CHARS) + text[i + 1 :]
        else:
            lines = text.splitlines(keepends=True)
            k = draw(st.integers(0, len(lines) - 1))
            if op == "dupline":
                lines.insert(k, lines[k])
            else:
                del lines[k]
            text = "".join(lines)
    return text


@_settings(MUTATED_EXAMPLES)
@given(text=edited_text())
def test_randomly_edited_files_are_accepted_or_refused_never_crash(text):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        exp = folder / "exp.toml"
        exp.write_text(text, encoding="utf-8")
        try:
            plan = load_experiment(exp)
        except SpecError as err:
            event("refused")
            msg = str(err)
            assert str(exp) in msg and "Traceback" not in msg
            assert_refused(folder, text, [], None)
            return
        # accepted: the plan is what --check prints; small ones also run
        code, out, _ = sweep([str(exp), "--check"])
        assert code == 0 and f"= {plan.n_runs} runs" in out
        p = plan.base_params
        event("accepted")
        if plan.n_runs <= 24 and p.n_users <= 400 and p.quarters <= 8:
            event("accepted and ran")
            code, out, err = sweep(
                [str(exp), "--out", str(folder / "res"), "--backend", "serial", "--no-progress"],
            )
            assert code == 0, (out, err, text)
            check_results(folder / "res", plan.n_runs, plan.series, plan.quarters)


@pytest.mark.parametrize(
    "text,fragment",
    [
        ('scenario = "baseline"\n[design]\nkind = "factorial"\n', "'factorial' is unknown"),
        ('scenario = "baseline"\nreplicates = "two"\n', "replicates = 'two'"),
        ('scenario = "baseline\n', "not valid TOML"),
        ('[varied]\n"vendors.Aegis.stanse" = [0.1]\n', "unknown parameter"),
        (b"\x00\xff\xfe binary junk", "not a UTF-8 text file"),
    ],
    ids=["design", "type", "toml", "parameter", "binary"],
)
def test_the_installed_command_refuses_in_one_message_without_traceback(tmp_path, text, fragment):
    """The same, through the real ``privmarket`` process: status 2, no traceback, no folder."""
    import subprocess
    import sys

    exp = tmp_path / "bad.toml"
    exp.write_bytes(text if isinstance(text, bytes) else text.encode())
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "privmarket.experiments.cli",
            "sweep",
            str(exp),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert fragment in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists()
