"""`privmarket calibrate`: a real (small) optimisation, and clear errors on bad data."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from privmarket.experiments.calibrate import DataError, calibrate, load_observed
from privmarket.experiments.cli import main
from privmarket.sim.scenarios import get_scenario

SCENARIO = "platform-decline-2009-2016"
DATA = Path(get_scenario(SCENARIO).extra["observed"])


def test_shipped_data_loads_and_matches_cases():
    df = load_observed(DATA, get_scenario(SCENARIO).params)
    bb = df[df.vendor == "BlackBerry"].set_index("year")["share"]
    assert bb[2009] == 19.9 and bb[2014] == 0.4
    android = df[df.vendor == "Android"].set_index("year")["share"]
    assert android[2010] == 22.7 and android[2014] == 81.5
    assert "source" in df.columns


def test_calibration_improves_on_a_bad_start_and_writes_loadable_params(tmp_path):
    base = get_scenario(SCENARIO).params.with_updates(
        {"n_users": 3000, "quarters": 24, "b_ecosystem": 0.5}
    )
    result = calibrate(SCENARIO, DATA, ["b_ecosystem=0.5:8"], budget=8, seeds=1, base=base)
    start = calibrate(SCENARIO, DATA, ["b_ecosystem=0.5:0.51"], budget=1, seeds=1, base=base)
    assert result["error"]["mean"] < start["error"]["mean"]
    assert set(result["comparison"].columns) == {"year", "vendor", "observed", "simulated"}
    # same sampler seed, same search
    again = calibrate(SCENARIO, DATA, ["b_ecosystem=0.5:8"], budget=8, seeds=1, base=base)
    assert again["parameters"] == result["parameters"]


def test_calibrate_command_end_to_end(tmp_path):
    out = tmp_path / "cal"
    rc = main(
        [
            "calibrate",
            SCENARIO,
            "--data",
            str(DATA),
            "--params",
            "b_contacts=0:3",
            "--budget",
            "2",
            "--seeds",
            "1",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    best = json.loads((out / "best_params.json").read_text())
    assert "b_contacts" in best["parameters"] and best["error"]["mean"] >= 0
    assert (out / "fit.png").stat().st_size > 0
    fit = pd.read_csv(out / "fit.csv")
    assert len(fit) == 18
    # the parameter file runs
    assert (
        main(
            [
                "run",
                SCENARIO,
                "--params",
                str(out / "best_params.json"),
                "--quarters",
                "2",
                "--users",
                "1000",
                "--no-figures",
                "--out",
                str(tmp_path / "run"),
            ]
        )
        == 0
    )


def write(tmp_path, text: str) -> Path:
    p = tmp_path / "data.csv"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "text, message",
    [
        ("year,share\n2009,10\n", "lacks column(s) ['vendor']"),
        ("year,vendor,share\n2010,iOS,10\n2009,iOS,12\n", "out of order"),
        ("year,vendor,share\n2009,iOS,10\n2009,iOS,12\n", "out of order or repeated"),
        ("year,vendor,share\n2009,iOS,120\n", "out of range; allowed 0 to 100"),
        ("year,vendor,share\n2009,iOS,-1\n", "out of range"),
        ("year,vendor,share\n2009,iOS,lots\n", "out of range"),
        ("year,vendor,share\nlast year,iOS,10\n", "is not a whole year"),
        ("year,vendor,share\n2009,Nokia,10\n", "not in the scenario"),
        ("year,vendor,share\n1999,iOS,10\n", "outside the run"),
        ("year,vendor,share\n2009,iOS,60\n2009,Android,60\n", "more than 100%"),
        ("", "not a readable CSV"),
    ],
)
def test_bad_data_files_get_clear_errors(tmp_path, text, message, capsys):
    path = write(tmp_path, text)
    with pytest.raises(
        DataError,
        match=message.replace("(", r"\(")
        .replace(")", r"\)")
        .replace("[", r"\[")
        .replace("]", r"\]"),
    ):
        load_observed(path, get_scenario(SCENARIO).params)
    out = tmp_path / "out"
    rc = main(
        [
            "calibrate",
            SCENARIO,
            "--data",
            str(path),
            "--params",
            "b_price=0.5:2",
            "--budget",
            "1",
            "--out",
            str(out),
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0]
    assert not out.exists()


@pytest.mark.parametrize(
    "spec, message",
    [
        ("b_price", "expected name=low:high"),
        ("b_price=2:1", "must be below"),
        ("nonsense=0:1", "unknown parameter"),
        ("hazard=0:3", "invalid value for 'hazard': 3"),
    ],
)
def test_bad_bounds_are_refused(tmp_path, spec, message, capsys):
    rc = main(
        [
            "calibrate",
            SCENARIO,
            "--data",
            str(DATA),
            "--params",
            spec,
            "--budget",
            "1",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
