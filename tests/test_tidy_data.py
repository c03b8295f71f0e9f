"""The Python API as pandas and matplotlib users meet it: typed tables, a long frame,
users selected by name, and a figure that both ``plt.show()`` and ``savefig`` take."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from privmarket.sim.model import MarketModel  # noqa: E402


@pytest.fixture(scope="module")
def run() -> MarketModel:
    return MarketModel(n_users=3_000, quarters=8, rng=2).run()


def test_every_numeric_column_of_the_table_is_numeric(run: MarketModel) -> None:
    table = run.table()
    assert table["label"].dtype == "string"
    assert pd.api.types.is_datetime64_any_dtype(table["date"])
    rest = table.drop(columns=["label", "date"])
    not_numeric = [c for c, t in rest.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
    assert not_numeric == []
    assert table.filter(like=".alive").dtypes.eq(bool).all()
    # what pandas users do with it works, warnings as errors
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        described = rest.describe()
        assert "Aegis.cash" in described.columns
        assert np.isfinite(np.log(table["Aegis.cash"].clip(lower=1))).all()
        assert table.select_dtypes("number").shape[1] >= rest.shape[1] - 4
        table["Aegis.trust"].interpolate()
        assert rest.round(2)["hhi"].equals(table["hhi"].round(2))


def test_the_long_frame_is_tidy_typed_and_agrees_with_the_table(run: MarketModel) -> None:
    frame = run.frame()
    assert list(frame.columns) == [
        "quarter",
        "label",
        "date",
        "kind",
        "entity",
        "country",
        "segment",
        "figure",
        "value",
    ]
    assert frame["value"].dtype == np.float64 and frame["quarter"].dtype == np.int64
    assert pd.api.types.is_datetime64_any_dtype(frame["date"])
    table = run.table()
    cash = frame.query("kind == 'vendor' and entity == 'Aegis' and figure == 'cash'")
    assert cash["value"].tolist() == table["Aegis.cash"].tolist()
    # per country and segment: installed users, units sold, readable users, in real users
    inst = frame.query("figure == 'installed_users' and quarter == 8")
    # Every user there is on some vendor; a simulated user stands for the real
    # users of its country, and the market grows: each country's real users
    # times how far its simulated users have grown from the start.
    pop = run.population
    real = np.array([c.population for c in run.params.countries]) * 1e6
    present = pop.initial + pop.arrivals[1:9].sum(axis=0)
    users = float((real * present / pop.initial).sum())
    assert present.sum() > pop.initial.sum()  # it grew
    assert inst["value"].sum() == pytest.approx(users)
    assert table["users"].iloc[8] == pytest.approx(users)
    by_vendor = inst.groupby("entity", observed=True)["value"].sum()
    for v in run.vendor_list:
        assert by_vendor[v.name] == pytest.approx(table[f"{v.name}.installed"].iloc[8])
    by_seg = inst.groupby("segment", observed=True)["value"].sum()
    assert set(by_seg.index) == {"consumer", "enterprise", "government"}
    readable = frame.query("figure == 'readable_users' and quarter == 8")["value"].sum()
    assert readable == pytest.approx(run.exposure() * users)


def test_plot_is_a_pyplot_figure_with_calendar_dates(run: MarketModel, tmp_path) -> None:
    fig = run.plot()
    assert fig.number in plt.get_fignums()  # plt.show() shows it
    fig.savefig(tmp_path / "run.png")
    assert (tmp_path / "run.png").stat().st_size > 10_000
    ax = fig.axes[0]
    assert isinstance(ax.xaxis.get_major_formatter(), matplotlib.dates.ConciseDateFormatter)
    start = matplotlib.dates.num2date(ax.lines[0].get_xdata(orig=False)[0])
    assert (start.year, start.month) == (2014, 10)  # quarter 0 is the one before Q1 2015
    plt.close(fig)


def test_users_are_selected_by_name_or_code_and_unknown_names_are_errors(run) -> None:
    users = run.users
    by_name = users.select(segment="enterprise", vendor="Aegis")
    by_code = users.select(segment=1, vendor=0)
    assert len(by_name) == len(by_code) > 0
    assert users.agg("privacy", np.mean, segment="enterprise") == pytest.approx(
        float(run.population.privacy[run.population.segment == 1].mean())
    )
    for bad in (dict(segment="Enterprise"), dict(vendor="Nobody"), dict(country="Atlantis")):
        with pytest.raises(ValueError, match="allowed"):
            users.select(**bad)
    with pytest.raises(ValueError, match="code 0..2"):
        users.select(segment=5)


def test_users_are_indexed_by_integers_only(run) -> None:
    users = run.users
    assert users[-1].unique_id == len(users) - 1
    assert users[np.int64(3)].unique_id == 3
    for bad in (1.5, True, "3"):
        with pytest.raises(TypeError):
            users[bad]
    with pytest.raises(IndexError):
        users[len(users)]
    assert {"privacy", "vendor", "segment", "device_age"} <= set(dir(users[0]))
