"""Experiment files: parsing, and errors that name the line, the value and what is allowed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from privmarket.experiments.cli import main
from privmarket.experiments.sweep.spec import (
    DESIGNS,
    SpecError,
    key_lines,
    load_experiment,
    parse_experiment,
)

GOOD = """\
name = "spec-test"
scenario = "baseline"
quarters = 6
replicates = 2
seed = 3

[fixed]
n_users = 2000
"countries.*.rule_of_law" = 0.5

[varied]
"vendors.Aegis.stance" = [0.2, 0.6, 1.0]
"countries.*.appetite" = { low = 0.1, high = 0.9, steps = 3 }

[design]
kind = "grid"
"""


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in text")


def bad(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_experiment(textwrap.dedent(text), source="exp.toml")
    return info.value


def test_a_good_file_is_parsed_into_a_plan():
    exp = parse_experiment(GOOD, "exp.toml")
    assert exp.name == "spec-test"
    assert exp.n_points == 9 and exp.replicates == 2 and exp.n_runs == 18
    assert exp.parameter_names == ["vendors.Aegis.stance", "countries.*.appetite"]
    assert exp.base_params.n_users == 2000 and exp.base_params.quarters == 6
    assert exp.base_params.countries[3].rule_of_law == 0.5
    assert exp.varied[1].levels() == [0.1, 0.5, 0.9]
    # last parameter varies fastest
    assert exp.points[:3] == [
        {"vendors.Aegis.stance": 0.2, "countries.*.appetite": a} for a in (0.1, 0.5, 0.9)
    ]
    assert exp.fingerprint() == parse_experiment(GOOD + "\n# a comment\n").fingerprint()
    assert exp.fingerprint() != parse_experiment(GOOD.replace("seed = 3", "seed = 4")).fingerprint()


def test_unquoted_dotted_keys_and_shorthands():
    exp = parse_experiment(
        textwrap.dedent(
            """
            design = "grid"
            [fixed]
            n_users = 2000
            vendors.Orchard.stance = 0.9
            [varied]
            vendors.Aegis.stance = { values = [0.5, 1.0] }
            hazard = [0.1, 0.2]
            """
        )
    )
    assert exp.fixed == {"n_users": 2000, "vendors.Orchard.stance": 0.9}
    assert exp.parameter_names == ["vendors.Aegis.stance", "hazard"]
    assert exp.n_points == 4


def test_unknown_parameter_path_names_line_and_allowed():
    text = GOOD.replace('"vendors.Aegis.stance" =', '"vendors.Aegis.stanse" =')
    err = bad(text)
    msg = str(err)
    assert f"line {line_of(text, 'stanse')}" in msg
    assert "vendors.Aegis.stanse" in msg and "stance" in msg  # the known fields are listed
    text = GOOD.replace('"vendors.Aegis.stance" =', '"vendors.Aegys.stance" =')
    msg = str(bad(text))
    assert f"line {line_of(text, 'Aegys')}" in msg and "Aegis" in msg and "Orchard" in msg
    text = GOOD.replace("n_users = 2000", "n_user = 2000")
    msg = str(bad(text))
    assert f"line {line_of(text, 'n_user =')}" in msg and "n_user" in msg and "n_users" in msg


def test_out_of_range_value_names_value_and_range():
    text = GOOD.replace("[0.2, 0.6, 1.0]", "[0.2, 0.6, 1.5]")
    msg = str(bad(text))
    assert f"line {line_of(text, '1.5]')}" in msg
    assert "1.5" in msg and "[0, 1]" in msg.replace("0.0", "0").replace("1.0", "1")


def test_bad_ranges():
    text = GOOD.replace("low = 0.1, high = 0.9", "low = 0.9, high = 0.1")
    msg = str(bad(text))
    assert f"line {line_of(text, 'low = 0.9')}" in msg and "below" in msg
    msg = str(bad(GOOD.replace(", steps = 3", "")))
    assert "steps" in msg
    msg = str(bad(GOOD.replace("low = 0.1, high = 0.9, steps = 3", "low = 0.1")))
    assert "low and high" in msg
    msg = str(bad(GOOD.replace("steps = 3", 'steps = 3, distribution = "pareto"')))
    assert "pareto" in msg and "uniform" in msg and "loguniform" in msg
    msg = str(bad(GOOD.replace("low = 0.1", 'low = "x"')))
    assert "expected a number" in msg


def test_unknown_design_names_line_and_allowed():
    text = GOOD.replace('kind = "grid"', 'kind = "factorial"')
    msg = str(bad(text))
    assert f"line {line_of(text, 'factorial')}" in msg
    assert "factorial" in msg and all(d in msg for d in DESIGNS)


def test_design_sample_sizes():
    sampled = GOOD.replace(", steps = 3", "").replace(
        '"vendors.Aegis.stance" = [0.2, 0.6, 1.0]\n', ""
    )
    msg = str(bad(sampled.replace('kind = "grid"', 'kind = "lhs"')))
    assert "needs samples" in msg
    msg = str(bad(sampled.replace('kind = "grid"', 'kind = "sobol"\nsamples = 10')))
    assert "power of 2" in msg and "10" in msg
    exp = parse_experiment(sampled.replace('kind = "grid"', 'kind = "sobol"\nsamples = 8'))
    assert exp.n_points == 8
    msg = str(bad(GOOD.replace('kind = "grid"', 'kind = "grid"\nsamples = 8')))
    assert "samples applies" in msg


def test_syntax_error_names_line():
    text = GOOD.replace("seed = 3", "seed = = 3")
    err = bad(text)
    assert f"line {line_of(text, 'seed = =')}" in str(err) and "not valid TOML" in str(err)


def test_other_mistakes_are_reported_together():
    text = GOOD.replace('scenario = "baseline"', 'scenario = "baseline"\nreplicate = 3').replace(
        "replicates = 2", "replicates = 0"
    )
    err = bad(text)
    assert len(err.problems) == 2
    msg = str(err)
    assert "has 2 problems" in msg
    assert f"line {line_of(text, 'replicate = 3')}" in msg and "'replicate'" in msg
    assert f"line {line_of(text, 'replicates = 0')}" in msg


def test_a_bad_fixed_value_does_not_hide_other_problems():
    text = GOOD.replace("n_users = 2000", "n_users = -5").replace("[0.2, 0.6, 1.0]", "[0.2, 7.0]")
    err = bad(text)
    assert [n for n, _ in err.problems] == [line_of(text, "n_users"), line_of(text, "7.0")]


def test_scenario_and_fixed_varied_conflicts():
    msg = str(bad(GOOD.replace('scenario = "baseline"', 'scenario = "atlantis"')))
    assert "atlantis" in msg and "baseline" in msg
    text = GOOD.replace("n_users = 2000", 'n_users = 2000\n"vendors.Aegis.stance" = 0.5')
    msg = str(bad(text))
    assert "both fixed and varied" in msg
    msg = str(bad(GOOD.replace("quarters = 6", "quarters = 6") + "\n[fixed2]\nx = 1\n"))
    assert "fixed2" in msg


def test_string_and_int_parameters():
    exp = parse_experiment(
        GOOD.replace(
            '"countries.*.appetite" = { low = 0.1, high = 0.9, steps = 3 }',
            '"vendors.Aegis.strategy" = ["principled", "adaptive"]\n'
            "contacts_mean_degree = { low = 2, high = 10, steps = 3 }",
        )
    )
    assert [v.levels() for v in exp.varied][1:] == [["principled", "adaptive"], [2, 6, 10]]
    msg = str(
        bad(
            GOOD.replace(
                '"vendors.Aegis.stance" = [0.2, 0.6, 1.0]', '"vendors.Aegis.strategy" = ["greedy"]'
            )
        )
    )
    assert "greedy" in msg and "principled" in msg
    msg = str(
        bad(
            GOOD.replace(
                '"vendors.Aegis.stance" = [0.2, 0.6, 1.0]',
                '"vendors.Aegis.strategy" = { low = 0, high = 1, steps = 2 }',
            )
        )
    )
    assert "cannot take a range" in msg


def test_invalid_combination_is_caught_on_the_design_points():
    # each value is fine alone (the other vendors keep their shares), but the point
    # where both are zero leaves every vendor without an initial share
    text = GOOD.replace(
        '"vendors.Aegis.stance" = [0.2, 0.6, 1.0]\n"countries.*.appetite" = { low = 0.1, high = 0.9, steps = 3 }',
        '"vendors.Aegis.initial_share" = [0.0, 0.2]\n"vendors.Orchard.initial_share" = [0.0, 0.3]',
    ).replace(
        "n_users = 2000",
        'n_users = 2000\n"vendors.Open.initial_share" = 0.0\n"vendors.Local.initial_share" = 0.0',
    )
    err = bad(text)
    assert "design point 0" in str(err) and "initial_share" in str(err)
    assert err.problems[0][0] == line_of(text, "[varied]")


def test_outputs_and_analysis_names_are_checked():
    msg = str(bad(GOOD + '\n[outputs]\nseries = ["privacy_exposure", "Aegis.nonsense"]\n'))
    assert "Aegis.nonsense" in msg and "Aegis.installed_share" in msg
    msg = str(bad(GOOD + '\n[analysis]\noutcome = "Aegis.alivee"\n'))
    assert "Aegis.alivee" in msg and "Aegis.alive" in msg
    msg = str(bad(GOOD + '\n[analysis]\nheatmap = ["hazard", "vendors.Aegis.stance"]\n'))
    assert "heatmap" in msg
    msg = str(bad(GOOD + '\n[analysis]\ndiscover = "privacy_exposure >> 3"\n'))
    assert "discover" in msg
    exp = parse_experiment(
        GOOD + '\n[outputs]\nseries = true\n[analysis]\noutcome = "Aegis.alive"\n'
        'discover = "privacy_exposure < 0.2"\n'
    )
    assert exp.series is True and exp.analysis["outcome"] == "Aegis.alive"


def test_an_empty_series_list_names_its_own_line():
    text = GOOD + "\n[outputs]\nseries = []\n"
    msg = str(bad(text))
    assert f"line {line_of(text, 'series = []')}" in msg and "give column names" in msg


def test_no_test_hook_is_reachable_from_a_file():
    # faults are injected by the tests (tests/faults.py), never by a key of the file
    msg = str(bad('_fault = { run = 3, kind = "raise" }\n' + GOOD))
    assert "unknown key '_fault'" in msg and "line 1" in msg


def test_key_lines_tracks_tables_and_multiline_values():
    text = (
        'a = [\n  1,\n  2,\n]\n[t."x.y"]\nlow = 1\n# c\nhigh = 2\n[u]\nv = """\nk = 1\n"""\nw = 3\n'
    )
    lines = key_lines(text)
    assert lines[("a",)] == 1
    assert lines[("t", "x.y")] == 5 and lines[("t", "x.y", "low")] == 6
    assert lines[("t", "x.y", "high")] == 8
    assert ("u", "k") not in lines and lines[("u", "w")] == 13


def test_load_experiment_missing_file(tmp_path):
    with pytest.raises(SpecError, match="no such experiment file"):
        load_experiment(tmp_path / "nope.toml")


# ------------------------------------------------------------ the command line
def test_cli_bad_file_exits_2_names_line_and_writes_nothing(tmp_path, capsys):
    text = GOOD.replace('"countries.*.appetite"', '"countries.*.apetite"')
    f = tmp_path / "bad.toml"
    f.write_text(text)
    out = tmp_path / "results" / "sweep"
    code = main(["sweep", str(f), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"line {line_of(text, 'apetite')}" in err and "apetite" in err and "appetite" in err
    assert not out.exists() and not out.parent.exists()


def test_cli_check_prints_the_plan_and_writes_nothing(tmp_path, capsys):
    f = tmp_path / "good.toml"
    f.write_text(GOOD)
    code = main(["sweep", str(f), "--check", "--out", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert code == 0
    assert "9 points x 2 replicate(s) = 18 runs" in out and "vendors.Aegis.stance" in out
    assert not (tmp_path / "o").exists()


def test_cli_unknown_file_lists_examples(tmp_path, capsys):
    code = main(["sweep", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "quick-grid" in err and "survival-map" in err and "sobol" in err


def test_shipped_examples_are_valid():
    folder = Path(__file__).resolve().parent.parent / "experiments" / "examples"
    names = sorted(p.stem for p in folder.glob("*.toml"))
    assert {"quick-grid", "survival-map", "sobol"} <= set(names)
    for p in folder.glob("*.toml"):
        exp = load_experiment(p)
        assert exp.n_runs >= 1
    quick = load_experiment(folder / "quick-grid.toml")
    assert quick.n_runs * quick.base_params.n_users * quick.quarters <= 10_000_000
    sm = load_experiment(folder / "survival-map.toml")
    assert set(sm.parameter_names) == {"vendors.Aegis.stance", "countries.*.appetite"}
    assert load_experiment(folder / "sobol.toml").design.kind == "saltelli"
