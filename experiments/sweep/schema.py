"""The shape of an experiment file, as pydantic models: keys, types and ranges.

These models say what each key of an experiment file may hold. They know
nothing of the model's parameters: whether ``vendors.Aegis.stance`` exists,
and which values it takes, is checked against :class:`~privmarket.sim.params.Params`
in :mod:`privmarket.experiments.sweep.spec`.

Every field's ``description`` says in words what it allows; an error in that
field is reported as ``key = value: expected <description>``. Numbers are
strict: ``true`` is not a number, ``"4"`` is not an integer and ``2.0`` is not
a whole number of replicates.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DESIGNS = ("grid", "oat", "lhs", "sobol", "saltelli", "morris")
DISTRIBUTIONS = ("uniform", "loguniform", "normal", "triangular")
#: Design kinds that sample the unit cube (every varied parameter maps [0, 1] to a value).
SAMPLED = ("lhs", "sobol", "saltelli", "morris")
#: Most runs one experiment may plan.
MAX_RUNS = 10_000_000

DesignKind = Literal["grid", "oat", "lhs", "sobol", "saltelli", "morris"]
Distribution = Literal["uniform", "loguniform", "normal", "triangular"]


class Section(BaseModel):
    """A table of an experiment file: no unknown keys, strict types, finite numbers."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class VariedSpec(Section):
    """One entry of ``[varied]``: a level list, or a range with a distribution."""

    values: list[Any] | None = Field(None, min_length=1, description="a non-empty list")
    low: float | None = Field(None, description="a number")
    high: float | None = Field(None, description="a number")
    steps: int | None = Field(None, ge=1, le=100_000, description="an integer in 1..100000")
    distribution: Distribution = Field("uniform", description=", ".join(DISTRIBUTIONS))
    mean: float | None = Field(None, description="a number")
    sd: float | None = Field(None, description="a number")
    mode: float | None = Field(None, description="a number")
    integer: bool | None = Field(None, description="true or false")
    base: Any = Field(None, description="a value of the parameter")

    @model_validator(mode="after")
    def _one_shape(self) -> VariedSpec:
        given = self.model_fields_set
        if self.values is not None:
            extra = sorted(given - {"values", "base"})
            if extra:
                raise ValueError(f"values = [...] cannot be combined with {extra}")
            return self
        dist = self.distribution
        if dist == "normal":
            if self.mean is None or self.sd is None or self.sd <= 0:
                raise ValueError(
                    f"a normal distribution needs mean and sd > 0 (got {self.mean}, {self.sd})"
                )
            if self.low is not None and self.high is not None and not self.low < self.high:
                raise ValueError(f"low {self.low} must be below high {self.high}")
        else:
            if self.low is None or self.high is None:
                raise ValueError("a range needs low and high (or give values = [...])")
            if not self.low < self.high:
                raise ValueError(f"low {self.low} must be below high {self.high}")
            if dist == "loguniform" and self.low <= 0:
                raise ValueError(f"a loguniform range needs low > 0 (got {self.low})")
            if dist == "triangular" and (
                self.mode is None or not self.low <= self.mode <= self.high
            ):
                raise ValueError("a triangular distribution needs low <= mode <= high")
        for key, owner in (("mean", "normal"), ("sd", "normal"), ("mode", "triangular")):
            if key in given and owner != dist:
                raise ValueError(f"{key} does not apply to a {dist} distribution")
        return self


class DesignSpec(Section):
    """The ``[design]`` table."""

    kind: DesignKind = Field("grid", description="one of " + ", ".join(DESIGNS))
    samples: int | None = Field(
        None, ge=1, le=MAX_RUNS, description="a whole number of samples, at least 1"
    )
    levels: int = Field(4, ge=2, le=1000, description="an integer in 2..1000 (Morris grid)")
    second_order: bool = Field(False, description="true or false")
    scramble: bool = Field(True, description="true or false")

    @model_validator(mode="after")
    def _options_fit_the_kind(self) -> DesignSpec:
        kind, given = self.kind, self.model_fields_set
        if kind in SAMPLED:
            what = SAMPLES_MEAN[kind]
            if self.samples is None:
                raise ValueError(f"design {kind!r} needs samples = ... ({what})")
            if kind in ("sobol", "saltelli") and self.samples & (self.samples - 1):
                raise ValueError(f"samples = {self.samples}: {kind} needs {what}")
        elif "samples" in given:
            raise ValueError(
                f"samples applies to the {', '.join(SAMPLED)} designs, not {kind!r} "
                "(grid and oat take steps or values per parameter)"
            )
        if "levels" in given and kind != "morris":
            raise ValueError("design.levels applies to the morris design only")
        if "second_order" in given and kind != "saltelli":
            raise ValueError("design.second_order applies to saltelli only")
        if "scramble" in given and kind not in ("lhs", "sobol", "saltelli"):
            raise ValueError("design.scramble applies to lhs, sobol and saltelli only")
        return self

    def canonical(self) -> dict[str, Any]:
        return self.model_dump()


SAMPLES_MEAN = {
    "lhs": "the number of points",
    "sobol": "the number of points, a power of 2",
    "saltelli": "the base sample N, a power of 2 (runs N*(D+2), or N*(2D+2) with second_order)",
    "morris": "the number of trajectories (points N*(D+1))",
}


class OutputsSpec(Section):
    """The ``[outputs]`` table."""

    series: bool | list[str] = Field(
        False, description="true, false or a list of per-quarter column names"
    )

    @field_validator("series")
    @classmethod
    def _non_empty(cls, series: bool | list[str]) -> bool | list[str]:
        # A field validator, so that the error points at the series line, not [outputs].
        if isinstance(series, list) and not series:
            raise ValueError("series = []: give column names, or true (all) or false (none)")
        return series


class AnalysisSpec(Section):
    """The ``[analysis]`` table: defaults for ``privmarket analyze``."""

    outcome: str | None = Field(None, max_length=200, description="an outcome name")
    heatmap: list[str] | None = Field(
        None, min_length=2, max_length=2, description="two varied parameters"
    )
    discover: str | None = Field(None, max_length=200, description="OUTCOME or 'OUTCOME OP NUMBER'")


class ExperimentFile(Section):
    """The top level of an experiment file (``fixed`` and ``varied`` are flattened first)."""

    name: str | None = Field(
        None, min_length=1, max_length=100, description="a name of 1 to 100 characters"
    )
    description: str = Field("", max_length=2000, description="text of at most 2000 characters")
    scenario: str = Field("baseline", max_length=100, description="a scenario name")
    quarters: int | None = Field(None, ge=1, le=400, description="an integer in 1..400")
    replicates: int = Field(1, ge=1, le=100_000, description="an integer in 1..100000")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="an integer in 0..9223372036854775807")
    common_seeds: bool = Field(False, description="true or false")
    fixed: dict[str, Any] = Field(default_factory=dict, description="a table of path = value")
    varied: dict[str, Any] = Field(
        default_factory=dict, description="a table of path = levels or range"
    )
    # the tables below are checked one by one (spec.py), so that a mistake in
    # one does not hide the mistakes in the others
    design: Any = Field(None, description="a design name or a [design] table")
    outputs: Any = Field(None, description="a table")
    analysis: Any = Field(None, description="a table")
