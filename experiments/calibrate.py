"""``privmarket calibrate``: fit the world parameters to every case at once.

One world explains every case (docs/ODD.md, section 8): the world parameters
are shared by all scenarios, so they are fitted jointly to everything the cases
show: each stand-off's patterns (as frequencies over seeds) and the platform
decline's yearly shares of unit sales and the secure vendor's revenue. The
method is ABC-SMC (approximate Bayesian computation by sequential Monte Carlo)
from the ``pyabc`` library; it returns a posterior *sample* of world
parameters, not one point. Particles are simulated through the project's own
parallel backends (a process pool by default, or a Dask cluster), with a
sampler that hands pyabc its particles in a fixed order: the same seed gives
the same posterior whatever the number of workers.

What is fitted, the priors, the budget and the weights are in
``experiments/calibration.toml``; every world parameter not listed keeps its
value from ``sim/posterior/world.toml``. Outputs (see :func:`write_outputs`):
the posterior sample (Parquet), a summary table, marginal plots, the
probability of each pattern over posterior draws and seeds, the decline's fit,
and the point estimate as a ``world.toml`` that ``--ship`` installs as the
package's default world.

Out-of-sample checks use the same machinery: ``--leave-out CASE`` fits without
one stand-off (and reports how well the posterior predicts it), ``--fit-years
2009-2012`` fits the decline on those years only.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import random
import shutil
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from scipy.special import ndtr

from privmarket.experiments.patterns import (
    PARTIES,
    PATTERNS,
    STANDOFFS,
    route,
    yearly_sales_shares,
)
from privmarket.sim.model import MarketModel
from privmarket.sim.params import ParameterError, Params
from privmarket.sim.scenarios import get_scenario

DECLINE = "platform-decline-2009-2016"
#: Vendors whose yearly sales shares the decline is fitted to.
DECLINE_VENDORS = ("BlackBerry", "Apple", "Android")
SPEC_FILE = "calibration.toml"


class CalibrationError(ParameterError):
    """A calibration spec or option that cannot be used."""


# ------------------------------------------------------------------- the spec
class Weights(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patterns: float = Field(1.0, ge=0)
    shares: float = Field(4.0, ge=0)
    revenue: float = Field(0.5, ge=0)


class CalibrationSpec(BaseModel):
    """What is fitted, with what priors, at what budget (``experiments/calibration.toml``)."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(ge=0, lt=2**63)
    population: int = Field(ge=4, le=100_000)
    generations: int = Field(ge=1, le=100)
    draws: int = Field(ge=1, le=100_000)
    users: int = Field(ge=100, le=1_000_000)
    decline_users: int = Field(ge=100, le=1_000_000)
    seeds: int = Field(ge=1, le=100)
    kernel_scaling: float = Field(1.0, gt=0, le=10)
    weights: Weights = Field(default_factory=Weights)
    priors: dict[str, tuple[float, float]]

    @field_validator("priors")
    @classmethod
    def _known_and_ordered(cls, priors: dict[str, tuple[float, float]]) -> dict:
        world = set(Params.world_fields()) | {"business_weight"}
        for name, (lo, hi) in priors.items():
            if name not in world:
                raise ValueError(
                    f"prior for {name!r}: not a world parameter; allowed: {', '.join(sorted(world))}"
                )
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"prior for {name!r}: [{lo}, {hi}] must have low < high")
        return priors

    @classmethod
    def load(cls, path: str | Path | None = None) -> CalibrationSpec:
        """The spec in ``path`` (default: the shipped ``experiments/calibration.toml``)."""
        where = str(path) if path else f"experiments/{SPEC_FILE}"
        try:
            text = (
                Path(path).read_text(encoding="utf-8")
                if path
                else files("privmarket.experiments").joinpath(SPEC_FILE).read_text(encoding="utf-8")
            )
            return cls(**tomllib.loads(text))
        except FileNotFoundError:
            raise CalibrationError(f"calibration spec {where!r}: no such file") from None
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise CalibrationError(f"calibration spec {where!r}: not valid TOML ({exc})") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            msg = first["msg"].removeprefix("Value error, ")
            raise CalibrationError(f"calibration spec {where!r}: {key}: {msg}") from None


def from_unbounded(spec: CalibrationSpec, u: dict[str, float]) -> dict[str, float]:
    """Sampler coordinates -> parameter values: ``low + (high - low) * Phi(u)``.

    ABC-SMC perturbs particles with a Gaussian kernel. On the parameters' own
    uniform box almost every perturbation of a particle near an edge leaves the
    box; on logit coordinates (a logistic prior) the prior's tails are heavier than
    the kernel's, and particles in the tails took nearly all the importance
    weight (effective sample size 6 of 200). So the sampler works on probit
    coordinates: a standard normal prior on ``u`` is exactly the uniform prior on
    the parameter (``Phi(u)`` is uniform), its tails are as light as the kernel's,
    and nothing leaves the support.
    """
    out = {}
    for name, value in u.items():
        lo, hi = spec.priors[name]
        out[name] = lo + (hi - lo) * float(ndtr(float(value)))
    return out


def world_updates(theta: dict[str, float]) -> dict[str, Any]:
    """Parameter updates for one particle (``business_weight`` sets segment_weights)."""
    out: dict[str, Any] = {}
    for name, value in theta.items():
        value = float(value)
        if name == "business_weight":
            out["segment_weights"] = (1.0, value, 2.0 * value)
        elif (
            name in ("deadline_quarters", "demand_cooldown", "loss_quarters", "ev_horizon")
            or name == "contacts_mean_degree"
        ):
            out[name] = int(round(value))
        else:
            out[name] = value
    return out


# ------------------------------------------------------------- observations
def observed_shares(years: Iterable[int] | None = None) -> pd.DataFrame:
    """The decline's observed yearly sales shares (0-1), long: year, vendor, share."""
    path = get_scenario(DECLINE).extra["observed"]
    df = pd.read_csv(path)
    df = df[df["vendor"].isin(DECLINE_VENDORS)].assign(share=lambda d: d["share"] / 100)
    if years is not None:
        df = df[df["year"].isin(list(years))]
    return df[["year", "vendor", "share"]].reset_index(drop=True)


def observed_revenue(years: Iterable[int] | None = None) -> pd.DataFrame:
    """The secure vendor's reported revenue by calendar year (US$M)."""
    df = pd.read_csv(get_scenario(DECLINE).extra["revenue"])
    if years is not None:
        df = df[df["year"].isin(list(years))]
    return df[["year", "vendor", "revenue"]].reset_index(drop=True)


def yearly_revenue(m: MarketModel, vendor: str) -> dict[int, float]:
    """A vendor's revenue by calendar year in a finished run, US$M."""
    i = m.vendor_index(vendor)
    rev = m.results.vendor["revenue"][1 : m.quarter + 1, i]
    years = np.array([m.quarter_date(t).year for t in range(1, m.quarter + 1)])
    return {int(y): float(rev[years == y].sum()) for y in np.unique(years)}


# -------------------------------------------------------------- the problem
@dataclass(frozen=True)
class Problem:
    """What one calibration fits: which cases, which years, at what size."""

    spec: CalibrationSpec
    cases: tuple[str, ...] = STANDOFFS
    decline: bool = True
    fit_years: tuple[int, ...] | None = None

    @property
    def share_years(self) -> tuple[int, ...]:
        years = tuple(sorted(set(observed_shares()["year"])))
        return tuple(y for y in years if self.fit_years is None or y in self.fit_years)

    @property
    def revenue_years(self) -> tuple[int, ...]:
        years = tuple(sorted(set(observed_revenue()["year"])))
        return tuple(y for y in years if self.fit_years is None or y in self.fit_years)

    def observed(self) -> dict[str, float]:
        """The observed summary statistics: required pattern frequencies, shares, revenue."""
        obs: dict[str, float] = {}
        for case in self.cases:
            for p in PATTERNS[case]:
                obs[f"pattern:{case}:{p.key}"] = p.probability
        if self.decline:
            shares = observed_shares(self.share_years)
            for r in shares.itertuples():
                obs[f"share:{r.year}:{r.vendor}"] = float(r.share)
            for r in observed_revenue(self.revenue_years).itertuples():
                obs[f"revenue:{r.year}:{r.vendor}"] = float(r.revenue)
        return obs


def simulate(problem: Problem, theta: dict[str, float], seed: int) -> dict[str, float]:
    """Summary statistics of one particle: every case run with its world parameters.

    Stand-offs run ``spec.seeds`` times each (their patterns are frequencies);
    the decline runs once. Seeds derive from ``seed``.
    """
    world = world_updates(theta)
    seeds = np.random.SeedSequence(seed).generate_state(len(problem.cases) * problem.spec.seeds + 1)
    out: dict[str, float] = {}
    k = 0
    for case in problem.cases:
        hits = {p.key: 0 for p in PATTERNS[case]}
        for _ in range(problem.spec.seeds):
            m = MarketModel(case, rng=int(seeds[k]), n_users=problem.spec.users, **world).run()
            k += 1
            for p in PATTERNS[case]:
                hits[p.key] += bool(p.check(m))
        for key, n in hits.items():
            out[f"pattern:{case}:{key}"] = n / problem.spec.seeds
    if problem.decline:
        m = MarketModel(DECLINE, rng=int(seeds[-1]), n_users=problem.spec.decline_users, **world)
        m.run()
        shares = yearly_sales_shares(m)
        for y in problem.share_years:
            for v in DECLINE_VENDORS:
                out[f"share:{y}:{v}"] = float(shares[y][m.vendor_index(v)])
        revenue = yearly_revenue(m, "BlackBerry")
        for y in problem.revenue_years:
            out[f"revenue:{y}:BlackBerry"] = revenue.get(y, 0.0)
    return out


def distance(weights: Weights, x: dict[str, float], x0: dict[str, float]) -> float:
    """How far a particle's summary ``x`` is from the observed ``x0``.

    Patterns: how far each frequency falls short of its required probability
    (a frequency above it costs nothing). Shares: mean absolute error. Revenue:
    mean absolute log ratio (a factor of two is 0.69 whatever the level).
    """
    short = [max(0.0, x0[k] - x[k]) for k in x0 if k.startswith("pattern:")]
    shares = [abs(x[k] - x0[k]) for k in x0 if k.startswith("share:")]
    rev = [
        abs(math.log(max(x[k], 1.0) / x0[k])) for k in x0 if k.startswith("revenue:") and x0[k] > 0
    ]
    d = weights.patterns * sum(short)
    if shares:
        d += weights.shares * float(np.mean(shares))
    if rev:
        d += weights.revenue * float(np.mean(rev))
    return d


# ------------------------------------------------------- pyabc, in order
def _particles_until_accepted(task: tuple[bytes, int]) -> tuple[list, int]:
    """One task of :class:`OrderedSampler`: seeded, simulate until one particle is accepted."""
    import cloudpickle

    blob, seed = task
    simulate_one = cloudpickle.loads(blob)
    # pyabc draws parameters from numpy's global generator: seeding it per task is
    # what makes the posterior independent of the workers.
    np.random.seed(seed % 2**32)  # noqa: NPY002
    random.seed(seed)
    found, evaluations = [], 0
    while True:
        particle = simulate_one()
        evaluations += 1
        found.append(particle)
        if particle.accepted:
            return found, evaluations


def ordered_sampler(executor: Executor, seed: int):
    """A pyabc sampler that runs its tasks on ``executor`` and takes them in a fixed order.

    Each of the ``n`` tasks of a generation samples until it has one accepted
    particle, from its own seed (the root seed, the generation and the task's
    index); results are taken in task order. So the posterior does not depend on
    how many workers there are, or which finishes first.
    """
    import cloudpickle
    from pyabc.sampler import Sampler

    class OrderedSampler(Sampler):
        def sample_until_n_accepted(self, n, simulate_one, t, **kwargs):
            blob = cloudpickle.dumps(simulate_one)
            ss = np.random.SeedSequence(seed, spawn_key=(2, t + 10))
            seeds = ss.generate_state(n, dtype=np.uint64).tolist()
            sample = self._create_empty_sample()
            total = 0
            for particles, evaluations in executor.map(
                _particles_until_accepted, [(blob, int(s)) for s in seeds]
            ):
                for particle in particles:
                    sample.append(particle)
                total += evaluations
            self.nr_evaluations_ = total
            return sample

    return OrderedSampler()


def _model_function(problem: Problem) -> Callable[[dict], dict]:
    return functools.partial(_pyabc_model, problem)


def _pyabc_model(problem: Problem, parameter: dict) -> dict:
    # The particle's own seed, from the task's seeded global generator.
    seed = int(np.random.randint(0, 2**31 - 1))  # noqa: NPY002
    return simulate(problem, from_unbounded(problem.spec, dict(parameter)), seed)


@dataclass
class CalibrationResult:
    """What a calibration found."""

    problem: Problem
    population: pd.DataFrame  # last generation: parameters and weight
    sample: pd.DataFrame  # equally weighted posterior draws
    point: dict[str, float]  # weighted median of each parameter
    epsilons: list[float]
    evaluations: int
    seconds: float
    history_path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def calibrate(problem: Problem, executor: Executor, workdir: Path) -> CalibrationResult:
    """Run ABC-SMC for ``problem`` on ``executor``; pyabc's history goes into ``workdir``."""
    import pyabc

    spec = problem.spec
    # A standard normal prior on probit coordinates is the uniform prior on each
    # parameter's range (see from_unbounded).
    prior = pyabc.Distribution(**{name: pyabc.RV("norm", 0, 1) for name in spec.priors})
    weights = spec.weights

    def dist(x: dict, x0: dict) -> float:
        return distance(weights, x, x0)

    np.random.seed(spec.seed % 2**32)  # noqa: NPY002 (pyabc uses the global generator)
    abc = pyabc.ABCSMC(
        _model_function(problem),
        prior,
        dist,
        population_size=spec.population,
        transitions=pyabc.MultivariateNormalTransition(scaling=spec.kernel_scaling),
        sampler=ordered_sampler(executor, spec.seed),
    )
    db = workdir / "history.db"
    abc.new(f"sqlite:///{db}", problem.observed())
    t0 = time.perf_counter()
    history = abc.run(max_nr_populations=spec.generations)
    seconds = time.perf_counter() - t0
    df, w = history.get_distribution(m=0, t=history.max_t)
    names = list(spec.priors)
    values = [from_unbounded(spec, row) for row in df[names].to_dict("records")]
    population = pd.DataFrame(values, columns=names).assign(weight=np.asarray(w))
    rng = np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(3,)))
    picks = rng.choice(len(population), size=spec.draws, p=population["weight"].to_numpy())
    sample = population.loc[picks, names].reset_index(drop=True)
    point = {
        n: weighted_median(population[n].to_numpy(), population["weight"].to_numpy()) for n in names
    }
    pops = history.get_all_populations()
    epsilons = [float(e) for e in pops[pops["t"] >= 0]["epsilon"]]
    evaluations = int(pops["samples"].sum())
    ess = [
        effective_sample_size(history.get_distribution(m=0, t=t)[1])
        for t in range(history.max_t + 1)
    ]
    return CalibrationResult(
        problem,
        population,
        sample,
        point,
        epsilons,
        evaluations,
        seconds,
        db,
        extra={"effective_sample_size": ess},
    )


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size of importance weights."""
    w = np.asarray(weights, dtype=np.float64)
    return float(w.sum() ** 2 / (w**2).sum())


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, 0.5 * cum[-1])])


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][min(np.searchsorted(cum, q * cum[-1]), len(values) - 1)])


# -------------------------------------------------- posterior predictions
def _predict_case(task: tuple[str, dict[str, float], int, int]) -> dict[str, Any]:
    case, theta, seed, users = task
    m = MarketModel(case, rng=seed, n_users=users, **world_updates(theta)).run()
    hits = {p.key: bool(p.check(m)) for p in PATTERNS[case]}
    out: dict[str, Any] = {"case": case, "seed": seed, **{f"hit:{k}": v for k, v in hits.items()}}
    if case in PARTIES:
        out["route"] = route(m, *PARTIES[case])
    if case == DECLINE:
        shares = yearly_sales_shares(m)
        revenue = yearly_revenue(m, "BlackBerry")
        for y, s in shares.items():
            for v in DECLINE_VENDORS:
                out[f"share:{y}:{v}"] = float(s[m.vendor_index(v)])
            out[f"revenue:{y}:BlackBerry"] = revenue.get(y, 0.0)
    return out


def posterior_runs(
    sample: pd.DataFrame,
    cases: Iterable[str],
    draws: int,
    seeds: int,
    users: int,
    executor: Executor | None = None,
    root_seed: int = 0,
    decline_users: int | None = None,
) -> pd.DataFrame:
    """Every case run over ``draws`` posterior draws x ``seeds`` seeds: one row per run."""
    rows = sample.head(draws).to_dict("records")
    ss = np.random.SeedSequence(root_seed, spawn_key=(4,))
    run_seeds = ss.generate_state(len(rows) * seeds, dtype=np.uint64).tolist()
    tasks = []
    for case in cases:
        size = decline_users if (case == DECLINE and decline_users) else users
        for i, theta in enumerate(rows):
            for j in range(seeds):
                tasks.append((case, theta, int(run_seeds[i * seeds + j] % 2**62), size))
    mapper = executor.map if executor is not None else map
    out = pd.DataFrame(list(mapper(_predict_case, tasks)))
    out.insert(1, "draw", [i for case in cases for i in range(len(rows)) for _ in range(seeds)])
    return out


def calibration_runs(
    sample: pd.DataFrame,
    cases: Iterable[str],
    spec: CalibrationSpec,
    executor: Executor | None = None,
) -> pd.DataFrame:
    """The runs a calibration reports its pattern probabilities over: the first
    ``min(spec.draws, 100)`` draws x 2 seeds, at the spec's sizes and seed.

    Run on the shipped posterior they give ``sim/posterior/patterns.csv`` again.
    """
    return posterior_runs(
        sample,
        cases,
        draws=min(spec.draws, 100),
        seeds=2,
        users=spec.users,
        executor=executor,
        root_seed=spec.seed,
        decline_users=spec.decline_users,
    )


def pattern_probabilities(runs: pd.DataFrame) -> pd.DataFrame:
    """Each pattern's frequency over the runs of :func:`posterior_runs`, with its requirement."""
    rows = []
    for case, g in runs.groupby("case", sort=False):
        for p in PATTERNS[case]:
            hits = g[f"hit:{p.key}"].astype(bool)
            rows.append(
                dict(
                    case=case,
                    pattern=p.key,
                    text=p.text,
                    probability=float(hits.mean()),
                    runs=int(len(hits)),
                    required=p.probability,
                    holds=bool(hits.mean() >= p.probability),
                )
            )
    return pd.DataFrame(rows)


def pattern_routes(runs: pd.DataFrame) -> pd.DataFrame:
    """How each stand-off's runs went (:func:`~privmarket.experiments.patterns.route`),
    and in how many of each route each of its patterns held.

    One row per case, pattern and route, the most common route first: ``runs``
    that took the route, their ``share`` of the case's runs, and how many of them
    ``held`` the pattern. A pattern that holds mostly by a route the real case did
    not take holds for the wrong reason.
    """
    rows = []
    for case, g in runs[runs["case"].isin(list(PARTIES))].groupby("case", sort=False):
        counts = g["route"].value_counts(sort=True)
        for p in PATTERNS[case]:
            held = g[f"hit:{p.key}"].astype(bool).groupby(g["route"]).sum()
            for name, n in counts.items():
                rows.append(
                    dict(
                        case=case,
                        pattern=p.key,
                        route=name,
                        runs=int(n),
                        share=n / len(g),
                        held=int(held[name]),
                    )
                )
    return pd.DataFrame(rows, columns=["case", "pattern", "route", "runs", "share", "held"])


def decline_fit(runs: pd.DataFrame) -> pd.DataFrame:
    """The decline's predicted yearly shares (median and 90% interval) against the observed."""
    g = runs[runs["case"] == DECLINE]
    obs = observed_shares()
    rows = []
    for r in obs.itertuples():
        col = f"share:{r.year}:{r.vendor}"
        if col not in g:
            continue
        vals = g[col].to_numpy()
        rows.append(
            dict(
                year=int(r.year),
                vendor=r.vendor,
                observed=100 * float(r.share),
                median=100 * float(np.median(vals)),
                low=100 * float(np.quantile(vals, 0.05)),
                high=100 * float(np.quantile(vals, 0.95)),
            )
        )
    for r in observed_revenue().itertuples():
        col = f"revenue:{r.year}:BlackBerry"
        if col in g:
            vals = g[col].to_numpy()
            rows.append(
                dict(
                    year=int(r.year),
                    vendor="BlackBerry revenue (US$M)",
                    observed=float(r.revenue),
                    median=float(np.median(vals)),
                    low=float(np.quantile(vals, 0.05)),
                    high=float(np.quantile(vals, 0.95)),
                )
            )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- outputs
def summary_table(result: CalibrationResult) -> pd.DataFrame:
    """One row per fitted parameter: prior, weighted median and 90% interval."""
    pop, w = result.population, result.population["weight"].to_numpy()
    rows = []
    for name, (lo, hi) in result.problem.spec.priors.items():
        v = pop[name].to_numpy()
        rows.append(
            dict(
                parameter=name,
                prior_low=lo,
                prior_high=hi,
                median=weighted_median(v, w),
                q05=weighted_quantile(v, w, 0.05),
                q95=weighted_quantile(v, w, 0.95),
            )
        )
    return pd.DataFrame(rows)


def point_world(point: dict[str, float]) -> dict[str, Any]:
    """Every world parameter's value: the fitted point estimate, the rest as shipped."""
    world = Params().world()
    world.update(world_updates(point))
    return world


def world_toml(world: dict[str, Any], header: str) -> str:
    lines = [header.rstrip(), "", "[estimate]"]
    for name, value in world.items():
        if isinstance(value, tuple | list):
            lines.append(f"{name} = [{', '.join(repr(float(x)) for x in value)}]")
        elif isinstance(value, bool):
            lines.append(f"{name} = {'true' if value else 'false'}")
        else:
            lines.append(f"{name} = {value!r}")
    return "\n".join(lines) + "\n"


def marginals_figure(result: CalibrationResult):
    """Histograms of each fitted parameter's posterior over its prior range."""
    from matplotlib.figure import Figure

    names = list(result.problem.spec.priors)
    cols = 4
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(12, 2.3 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    pop = result.population
    for ax, name in zip(axes, names, strict=False):
        lo, hi = result.problem.spec.priors[name]
        ax.hist(pop[name], bins=20, range=(lo, hi), weights=pop["weight"], color="#0072B2")
        ax.axvline(result.point[name], color="#D55E00", lw=1.5)
        ax.set_title(name, fontsize=9)
        ax.set_xlim(lo, hi)
        ax.set_yticks([])
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    fig.suptitle("Posterior of the world parameters (over each prior's range; line: median)")
    return fig


def fit_figure(fit: pd.DataFrame, title: str = ""):
    """Observed yearly shares (points) against the posterior's median and 90% band."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.subplots()
    colours = {"BlackBerry": "#0072B2", "Apple": "#E69F00", "Android": "#009E73"}
    for vendor, g in fit[fit["vendor"].isin(colours)].groupby("vendor", sort=False):
        c = colours[vendor]
        ax.fill_between(g["year"], g["low"], g["high"], color=c, alpha=0.2)
        ax.plot(g["year"], g["median"], "-", color=c, label=f"{vendor} (model)")
        ax.plot(g["year"], g["observed"], "o", color=c, label=f"{vendor} (observed)")
    ax.set_xlabel("year")
    ax.set_ylabel("share of unit sales (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend(fontsize="small", ncols=2)
    return fig


def write_outputs(result: CalibrationResult, runs: pd.DataFrame, folder: Path) -> None:
    """Write everything a calibration produced into ``folder`` (which must exist)."""
    from privmarket.experiments.runs import versions

    result.sample.to_parquet(folder / "posterior.parquet", index=False)
    result.population.to_parquet(folder / "last_generation.parquet", index=False)
    summary_table(result).to_csv(folder / "summary.csv", index=False, float_format="%.6g")
    probs = pattern_probabilities(runs)
    probs.to_csv(folder / "patterns.csv", index=False, float_format="%.4g")
    pattern_routes(runs).to_csv(folder / "routes.csv", index=False, float_format="%.4g")
    runs.to_parquet(folder / "posterior_runs.parquet", index=False)
    marginals_figure(result).savefig(folder / "marginals.png", dpi=100)
    fit = decline_fit(runs)
    if not fit.empty:
        fit.to_csv(folder / "decline_fit.csv", index=False, float_format="%.4g")
        fit_figure(fit, "Platform decline: observed and posterior (90% band)").savefig(
            folder / "decline_fit.png", dpi=110
        )
    spec = result.problem.spec
    header = (
        "# The world parameters' defaults: behaviour shared by every scenario.\n#\n"
        "# The point estimate (posterior median) of the joint calibration of the world to\n"
        "# every case (privmarket calibrate, seed "
        f"{spec.seed}, {spec.population} particles x {spec.generations} generations);\n"
        "# parameters not fitted keep the values documented in docs/ODD.md. Written by\n"
        "# privmarket calibrate; ship a new one with --ship."
    )
    (folder / "world.toml").write_text(world_toml(point_world(result.point), header))
    meta = dict(
        seed=spec.seed,
        cases=list(result.problem.cases),
        decline=result.problem.decline,
        fit_years=list(result.problem.fit_years) if result.problem.fit_years else None,
        population=spec.population,
        generations=spec.generations,
        kernel_scaling=spec.kernel_scaling,
        evaluations=result.evaluations,
        epsilons=result.epsilons,
        seconds=round(result.seconds, 1),
        point=result.point,
        effective_sample_size=result.extra.get("effective_sample_size"),
        versions=versions(),
    )
    (folder / "calibration.json").write_text(json.dumps(meta, indent=2, default=str))


SHIPPED = ("world.toml", "posterior.parquet", "summary.csv", "patterns.csv", "decline_fit.csv")


#: The out-of-sample posteriors that ship beside the main one (docs/validation.md).
HOLDOUTS = ("decline-2009-2012", *(f"without-{c}" for c in STANDOFFS))


def posterior_sample(holdout: str | None = None) -> pd.DataFrame:
    """A shipped posterior sample of the world parameters: one row per draw, columns
    named as in the calibration's priors (turn a row into parameter values with
    :func:`world_updates`).

    ``holdout`` names one of the out-of-sample calibrations (:data:`HOLDOUTS`):
    the decline fitted on 2009-2012 only, or every case but one stand-off.
    """
    if holdout is not None and holdout not in HOLDOUTS:
        raise CalibrationError(f"holdout {holdout!r}: allowed: {', '.join(HOLDOUTS)}")
    name = "posterior.parquet" if holdout is None else f"holdout/{holdout}.parquet"
    path = files("privmarket.sim").joinpath(f"posterior/{name}")
    if not path.is_file():
        raise CalibrationError(
            f"no posterior {name} ships with this copy of privmarket: run privmarket calibrate"
        )
    return pd.read_parquet(str(path))


def ship(folder: Path, into: Path) -> list[Path]:
    """Copy a calibration's world and posterior into the package's ``sim/posterior``."""
    copied = []
    for name in SHIPPED:
        src = folder / name
        if src.exists():
            shutil.copy2(src, into / name)
            copied.append(into / name)
    return copied


# -------------------------------------------------------------------- CLI
def _years(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        lo, _, hi = text.partition("-")
        first, last = int(lo), int(hi or lo)
    except ValueError:
        raise CalibrationError(f"--fit-years {text!r}: expected YEAR or FIRST-LAST") from None
    if last < first:
        raise CalibrationError(f"--fit-years {text!r}: the last year comes before the first")
    return tuple(range(first, last + 1))


def _cmd(args: argparse.Namespace) -> int:
    """Fit the world parameters to every case at once (ABC-SMC, a posterior sample)."""
    from privmarket.experiments.output import OutputFolder
    from privmarket.experiments.resources import check_memory
    from privmarket.experiments.sweep.backends import check_backend_args, make_backend

    check_backend_args(args.backend, args.workers, args.scheduler)
    spec = CalibrationSpec.load(args.spec)
    if args.population is not None:
        spec = spec.model_copy(update={"population": args.population})
    if args.generations is not None:
        spec = spec.model_copy(update={"generations": args.generations})
    CalibrationSpec(**spec.model_dump())  # the command-line budget obeys the spec's bounds
    if args.leave_out and args.leave_out not in STANDOFFS:
        raise CalibrationError(f"--leave-out {args.leave_out!r}: allowed: {', '.join(STANDOFFS)}")
    cases = tuple(c for c in STANDOFFS if c != args.leave_out)
    problem = Problem(spec, cases=cases, decline=True, fit_years=_years(args.fit_years))
    # refused before any simulation: a folder of other files, or too little memory
    out = OutputFolder.claim(args.out or "out/calibration", "calibrate", overwrite=args.overwrite)
    users = max(spec.users, spec.decline_users)
    check_memory(
        users,
        Params().contacts_mean_degree,
        processes=args.workers or 1,
        force=args.force,
        what=f"a calibration of {users:,} users a run",
    )
    print(
        f"calibrating the world to {len(cases)} stand-off(s) and the decline: "
        f"{len(spec.priors)} parameters, {spec.population} particles x {spec.generations} "
        f"generations, seed {spec.seed}"
    )
    # pyabc's own database lives in a temporary folder of ours until the end
    work = Path(tempfile.mkdtemp(prefix="privmarket-abc-"))
    try:
        with make_backend(args.backend, args.workers, args.scheduler) as backend:
            result = calibrate(problem, backend.executor, work)
            predicted = list(cases) + ([args.leave_out] if args.leave_out else []) + [DECLINE]
            runs = calibration_runs(result.sample, predicted, spec, backend.executor)
        with out.writing() as folder:
            write_outputs(result, runs, folder)
            shutil.move(str(work / "history.db"), str(folder / "history.db"))
    finally:
        # `work` is the temporary folder this command made above (mkdtemp) for
        # pyabc's database; nothing of the user's is ever in it
        shutil.rmtree(work, ignore_errors=True)
    probs = pd.read_csv(out.path / "patterns.csv")
    print(f"done in {result.seconds:.0f} s, {result.evaluations} model evaluations")
    print(summary_table(result).to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print("pattern probabilities over posterior draws and seeds:")
    print(probs[["case", "pattern", "probability", "runs"]].to_string(index=False))
    if args.ship:
        into = Path(str(files("privmarket.sim").joinpath("posterior")))
        for p in ship(out.path, into):
            print(f"  shipped {p}")
    print(f"wrote {out.path}/")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from privmarket.experiments.cli_options import (
        add_backend_arguments,
        add_command,
        add_output_arguments,
    )

    p = add_command(sub, "calibrate", _cmd, description=__doc__.split("\n\n")[1])
    p.add_argument("--spec", metavar="FILE", help="calibration spec (default: the shipped one)")
    p.add_argument("--leave-out", metavar="CASE", help="fit without this stand-off and predict it")
    p.add_argument("--fit-years", metavar="FIRST-LAST", help="fit the decline on these years only")
    p.add_argument("--population", type=int, help="particles per generation (spec's by default)")
    p.add_argument("--generations", type=int, help="generations (spec's by default)")
    add_backend_arguments(p)
    add_output_arguments(p, "calibrate", "out/calibration")
    p.add_argument("--ship", action="store_true", help="install the result as the default world")
