"""Dashboard logic without a browser: settings, the live model, figures, world view, feed."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
import pytest

from privmarket.dashboard import charts, core
from privmarket.dashboard import figures as F
from privmarket.dashboard.core import BANNED, EXITED, event_frame
from privmarket.dashboard.events import events_csv, filter_events
from privmarket.dashboard.live import (
    MAX_USERS,
    LiveModel,
    LiveSettings,
    changes,
    check,
    parse_extra,
    parse_seed,
    parse_users,
    problems,
    resolve,
)
from privmarket.dashboard.vega import to_json
from privmarket.sim.model import MarketModel
from privmarket.sim.params import ParameterError
from privmarket.sim.scenarios import get_scenario, list_scenarios


def small(**changes) -> LiveSettings:
    return LiveSettings.for_scenario("baseline").replace(**{"users": "3000", **changes})


# ------------------------------------------------------------------ settings
def test_settings_show_the_scenario_and_resolve_back_to_it():
    for name in list_scenarios():
        s = LiveSettings.for_scenario(name, seed=5)
        params, seed = resolve(s)
        base = get_scenario(name).params
        assert seed == 5
        assert params.model_dump() == base.model_dump(), name
        assert s.vendor_names == tuple(v.name for v in base.vendors)
        assert s.appetite == tuple(c.appetite for c in base.countries)


def test_controls_change_the_parameters():
    s = small(seed="42").with_stance("Aegis", 0.5).with_strategy("Aegis", "adaptive")
    s = s.with_country("Eastria", appetite=0.1).replace(privacy_salience=2.0)
    params, seed = resolve(s)
    assert seed == 42 and params.n_users == 3000
    assert params.vendor("Aegis").stance == 0.5
    assert params.vendor("Aegis").strategy == "adaptive"
    east = [c for c in params.countries if c.name == "Eastria"][0]
    assert east.appetite == 0.1
    assert params.privacy_salience == 2.0
    # "all countries" sets every country
    allc, _ = resolve(small().with_country(None, rule_of_law=0.25))
    assert {c.rule_of_law for c in allc.countries} == {0.25}


@pytest.mark.parametrize("text", ["abc", "1.5", "", "-3", "7e3"])
def test_bad_seed_is_reported_by_name(text):
    with pytest.raises(ParameterError, match="seed"):
        parse_seed(text)


def test_seed_accepts_text_and_separators():
    assert parse_seed(" 12 ") == 12
    assert parse_seed("1_000") == 1000
    assert parse_seed(7) == 7


@pytest.mark.parametrize("text", ["ten", "0", "99", str(MAX_USERS + 1), "5.5"])
def test_bad_users_is_reported_with_the_range(text):
    with pytest.raises(ParameterError, match="users") as err:
        parse_users(text)
    assert "2,000,000" in str(err.value) or "whole number" in str(err.value)


def test_users_accepts_commas():
    assert parse_users("50,000") == 50_000


def test_extra_parameters_parse_and_validate():
    assert parse_extra("hazard=0.2\n# comment\n; quarters = 12") == {"hazard": 0.2, "quarters": 12}
    assert parse_extra("vendors.Aegis.strategy=adaptive") == {"vendors.Aegis.strategy": "adaptive"}
    with pytest.raises(ParameterError, match="name=value"):
        parse_extra("hazard 0.2")
    params, _ = resolve(small(extra="hazard=0.2; vendors.Aegis.cash=3000"))
    assert params.hazard == 0.2 and params.vendor("Aegis").cash == 3000


def test_invalid_values_name_field_value_and_range():
    msg = check(small(extra="hazard=2"))
    assert msg is not None and "hazard" in msg and "2" in msg and "[0" in msg
    msg = check(small(extra="hazrd=0.2"))
    assert msg is not None and "hazrd" in msg
    # several problems are reported together
    msg = check(small(seed="x", users="y"))
    assert "seed" in msg and "users" in msg
    assert check(small()) is None


def test_settings_for_a_stored_run_keep_its_values():
    values = {"hazard": 0.17, "vendors.Aegis.stance": 0.4, "countries.*.appetite": 0.9}
    s = LiveSettings.for_run("baseline", values, seed=11, source="run 3")
    assert s.stances[s.vendor_names.index("Aegis")] == 0.4
    assert set(s.appetite) == {0.9}
    params, seed = resolve(s)
    assert seed == 11 and params.hazard == 0.17 and s.source == "run 3"
    # the run's own values are applied before the controls: moving a slider still wins
    params2, _ = resolve(s.with_stance("Aegis", 0.8))
    assert params2.vendor("Aegis").stance == 0.8 and params2.hazard == 0.17


# --------------------------------------------------------------- live model
class Box:
    """A stand-in for a reactive variable: anything with ``.value``."""

    def __init__(self, value=None):
        self.value = value


def test_live_model_builds_from_settings_and_stops_at_the_horizon():
    s = small(seed="3", extra="quarters=3").with_stance("Orchard", 0.2)
    messages = []
    m = LiveModel(settings=Box(s), fallback=Box(), report=messages.append)
    assert messages == [None]
    assert m.params.vendor("Orchard").stance == 0.2 and m.seed == 3
    ref = MarketModel(m.params, rng=3)
    for _ in range(5):
        if m.running:
            m.step()
            ref.step()
    assert m.quarter == 3 and not m.running
    # the same parameters and seed give the same run as the plain model
    np.testing.assert_array_equal(m.installed_share(), ref.installed_share())


def test_live_model_keeps_last_valid_settings_when_input_is_invalid():
    good = small(seed="9").with_stance("Aegis", 0.3)
    last = Box()
    messages = []
    first = LiveModel(settings=Box(good), fallback=last, report=messages.append)
    assert last.value == good and first.seed == 9
    bad = good.replace(seed="nine", extra="hazard=-1")
    m = LiveModel(settings=Box(bad), fallback=last, report=messages.append)
    assert m.seed == 9 and m.params.vendor("Aegis").stance == 0.3
    assert "seed" in messages[-1] and "hazard" in messages[-1]
    assert "last valid settings" in messages[-1]
    m.step()  # and it runs
    assert m.quarter == 1


def test_views_and_steps_never_overlap():
    """Play steps in a thread of its own while the page redraws: a view reading the model
    holds its lock, and a step waits for it (no half-done quarter is drawn)."""
    import threading

    m = LiveModel(settings=small())
    with F.reading(m):
        t = threading.Thread(target=m.step)
        t.start()
        t.join(0.3)
        assert t.is_alive() and m.quarter == 0
    t.join(10)
    assert not t.is_alive() and m.quarter == 1
    assert len(m.history) == 2


@pytest.mark.parametrize("every", [1, 3, 10, 40])
def test_the_run_stops_at_its_horizon_whatever_the_redraw_interval(every):
    m = LiveModel(settings=small(extra="quarters=12"))
    steps = 0
    while m.running:
        ran = m.advance(every)
        steps += 1
        assert 1 <= ran <= every and m.quarter <= 12
    assert m.quarter == 12 and m.at_horizon and not m.running
    assert steps == -(-12 // every)
    # stepping at the horizon does nothing (the page also disables Step and Play there)
    assert m.advance(every) == 0
    m.step()
    assert m.quarter == 12 and len(m.history) == 13


def test_quarter_records_match_the_models_table():
    m = LiveModel(settings=small(seed="5", extra="quarters=10; countries.*.appetite=0.9"))
    m.advance(10)
    table = m.table()
    assert len(m.history) == len(table) == 11
    for rec, (_, row) in zip(m.history, table.iterrows(), strict=True):
        assert rec["quarter"] == row["quarter"]
        assert rec["exposure"] == pytest.approx(row["privacy_exposure"], abs=1e-12)
        for total in ("demands", "bans", "backdowns", "deals", "country_exits", "vendor_failures"):
            assert rec[total] == row[total], total
        for name, v in rec["vendors"].items():
            for figure in ("installed_share", "sales_share", "cash", "profit", "handset_profit"):
                assert v[figure] == pytest.approx(float(row[f"{name}.{figure}"]), abs=1e-9)
            assert v["trust"] == pytest.approx(float(row[f"{name}.trust"]))
            assert v["alive"] == bool(row[f"{name}.alive"])
        for country, share in rec["readable"].items():
            assert share == pytest.approx(float(row[f"{country}.readable_share"]), abs=1e-12)


def test_problems_are_attributed_to_their_field():
    assert problems(small()) == {}
    found = problems(small(seed="x", users="5", extra="hazard=7"))
    assert set(found) == {"seed", "users", "extra"}
    assert "seed 'x'" in found["seed"] and "users 5" in found["users"]
    assert "hazard" in found["extra"] and "7" in found["extra"]
    assert set(problems(small(extra="not a pair"))) == {"extra"}


def test_changes_name_what_reset_will_apply():
    a = small()
    assert changes(a, a) == [] and changes(None, a) == []
    b = a.with_stance("Aegis", 0.5).with_country("Eastria", appetite=0.1).replace(users="4000")
    text = changes(a, b)
    assert "users 3000 → 4000" in text
    assert "Aegis: privacy stance 0.95 → 0.50" in text
    assert any(t.startswith("Eastria: surveillance appetite") for t in text)
    assert changes(a, LiveSettings.for_scenario(list_scenarios()[-1])) == [
        f"scenario baseline → {list_scenarios()[-1]}"
    ]


def test_live_model_accepts_what_mesa_reset_passes():
    # Mesa's Reset passes its own Scenario object as `scenario=`; it must be ignored.
    from mesa.experimental.scenarios import Scenario

    m = LiveModel(settings=small(seed="4"), scenario=Scenario(rng=None))
    assert m.seed == 4 and m.scenario_name == "baseline"


# ------------------------------------------------------------------ figures
@pytest.fixture(scope="module")
def run():
    m = LiveModel(settings=small(seed="2", extra="countries.*.appetite=0.9"))
    m.advance(16)
    return m


@pytest.mark.parametrize("kind", F.CHART_KINDS)
def test_chart_specs_and_rows(run, kind):
    spec = F.chart_spec(kind, run)
    assert spec["data"] == {"name": "rows"} and spec["width"] == "container"
    assert json.loads(to_json(spec)) == spec  # plain JSON, nothing Python-only
    rows = F.chart_rows(kind, run, run.history)
    assert rows and {r["q"] for r in rows} <= set(range(17))
    assert all(math.isfinite(r["value"]) for r in rows)
    # every series named in the colour scale has rows, and the hover lists them
    line = next(
        layer
        for layer in spec["layer"]
        if layer["mark"]["type"] == "line" and "color" in layer.get("encoding", {})
    )
    domain = line["encoding"]["color"]["scale"]["domain"]
    assert {r["series"] for r in rows} <= set(domain)
    # each series ends in a marker of its own shape and its name (not colour alone)
    ends = [layer for layer in spec["layer"] if layer["mark"]["type"] in ("text", "point")]
    assert len(ends) == 2
    last_quarter = {"op": "max", "field": "q", "as": "last"}
    for layer in ends:
        assert any(last_quarter in t.get("joinaggregate", []) for t in layer["transform"])
    # the names sit at heights moved apart from each other (see test_names_at_the_lines_ends)
    (names,) = [layer for layer in ends if layer["mark"]["type"] == "text"]
    assert names["encoding"]["y"]["field"] == "label_at"
    hover = spec["layer"][-1]
    # a full-height band a quarter wide under the pointer: every point of the plot is
    # over exactly one quarter's band
    assert hover["mark"]["type"] == "rect" and "x2" in hover["encoding"]
    assert hover["params"][0]["select"]["fields"] == ["q"]
    assert len(hover["encoding"]["tooltip"]) > 1


def test_chart_rows_are_the_models_figures(run):
    last = run.history[-1]
    rows = [r for r in F.chart_rows("shares", run, run.history) if r["q"] == 16]
    for r in rows:
        v = last["vendors"][r["series"]]
        want = v["installed_share"] if r["measure"] == "installed base" else v["sales_share"]
        assert r["value"] == pytest.approx(100 * want, abs=1e-6)
    profit = [r for r in F.chart_rows("profit", run, run.history) if r["q"] == 16]
    handset = {r["series"]: r["value"] for r in profit if r["measure"] == "handsets"}
    for name, value in handset.items():
        assert value == pytest.approx(last["vendors"][name]["handset_profit"], abs=1e-6)


def test_rows_of_past_quarters_never_change():
    from privmarket.dashboard.components import RowCache

    m = LiveModel(settings=small(seed="8"))
    caches = {kind: RowCache(m, kind) for kind in F.CHART_KINDS}
    for _ in range(6):
        m.step()
        for kind, cache in caches.items():
            assert json.loads(cache.json(m.history)) == json.loads(
                to_json(F.chart_rows(kind, m, m.history))
            )


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_line_colours_stand_out_on_light_and_dark_backgrounds():
    # the first four colours (the four vendors of most scenarios): 3:1 for graphics (WCAG)
    for colour in charts.PALETTE[:4]:
        assert _contrast(colour, "#ffffff") >= 3.0, colour
        assert _contrast(colour, "#1e1e1e") >= 3.0, colour
    assert len(set(charts.SHAPES)) == len(charts.SHAPES)


def test_heat_colours_are_cividis_with_readable_figures():
    for share in np.linspace(0, 1, 21):
        bg, fg = F.heat(share)
        assert _contrast(bg, fg) >= 4.5, (share, bg, fg)
    assert F.heat(0)[0] != F.heat(1)[0]


def test_world_state_shows_presence_bans_exits_and_access():
    m = MarketModel(n_users=3000, rng=0)
    m.step()
    aegis, orchard, open_ = m.vendor_list[0], m.vendor_list[1], m.vendor_list[2]
    aegis.presence[2] = BANNED
    orchard.presence[3] = EXITED
    open_.access[4] = True
    open_.access[5, 0] = True
    world = F.world_state(m)
    status = {(c["name"], v["name"]): v["status"] for c in world for v in c["vendors"]}
    names = [c.name for c in m.params.countries]
    assert status[(names[2], aegis.name)] == "banned"
    assert status[(names[3], orchard.name)] == "exited"
    assert status[(names[4], open_.name)] == "access"
    assert status[(names[5], open_.name)] == "partial"
    assert status[(names[0], aegis.name)] == "present"
    for c in world:
        assert abs(sum(v["share"] for v in c["vendors"]) - 1) < 1e-9
    html = F.world_html(world)
    assert html.count('class="pm-tile"') == len(names)
    assert f'data-country="{names[2]}"' in html and 'data-status="banned"' in html
    m.vendor_list[3].leave_market("test", m.quarter)
    assert {v["status"] for c in F.world_state(m) for v in c["vendors"] if v["index"] == 3} == {
        "failed"
    }


def test_world_html_escapes_names():
    world = [
        dict(
            name="<b>X</b>",
            appetite=0.5,
            rule_of_law=0.5,
            readable=0.0,
            open_demands=0,
            vendors=[
                dict(name="A&B", index=0, status="present", share=1.0, access=[], withdrawn=False)
            ],
        )
    ]
    html = F.world_html(world)
    assert "<b>X</b>" not in html and "&lt;b&gt;X" in html and "A&amp;B" in html


def test_event_frame_has_the_models_sentences(run):
    frame = event_frame(run)
    raw = run.event_frame()
    assert len(frame) == len(raw) > 5
    assert list(frame.columns) == ["quarter", "label", "kind", "actor", "target", "sentence"]
    assert frame["label"].tolist() == raw["label"].astype(str).tolist()
    for sentence, model_sentence in zip(frame["sentence"], run.events.sentences(), strict=True):
        assert sentence[0].isupper() and sentence.lower() in model_sentence.lower()
    # the log only grows: a second look converts the new rows only and agrees with a fresh one
    run2 = LiveModel(settings=small(seed="2", extra="countries.*.appetite=0.9"))
    run2.advance(8)
    first = event_frame(run2)
    run2.advance(8)
    assert event_frame(run2).equals(event_frame(run))
    assert len(first) < len(event_frame(run2))
    # the rows kept and added agree with a conversion of the whole log from scratch,
    # and carry the model's own sentences
    grown = event_frame(run2)
    core._EVENTS.pop(run2)
    fresh = event_frame(run2)
    assert grown.equals(fresh)
    assert fresh["sentence"].tolist() == run2.event_frame()["sentence"].astype(str).tolist()


def test_feed_is_newest_first(run):
    frame = event_frame(run)
    html = F.feed_html(frame, last=10)
    assert html.count("<li") == 10
    newest = frame.iloc[-1]
    assert html.index(F.html.escape(newest["sentence"])) < html.index("</li>") + 400
    assert "No events yet" in F.feed_html(frame.iloc[:0])


def test_event_log_filters_and_csv(run):
    frame = event_frame(run)
    eastria = filter_events(frame, country="Eastria")
    assert len(eastria) and ((eastria.actor == "Eastria") | (eastria.target == "Eastria")).all()
    demands = filter_events(frame, kind="demand", vendor="Open")
    assert (demands.kind == "demand").all()
    assert ((demands.actor == "Open") | (demands.target == "Open")).all()
    assert len(filter_events(frame)) == len(frame)
    back = pd.read_csv(io.BytesIO(events_csv(demands)))
    assert back["sentence"].tolist() == demands["sentence"].tolist()


def test_status_and_vendor_table(run):
    line = F.status_line(run)
    assert line.startswith("Quarter 16 of 40 (")
    rows = F.vendor_rows(run)
    assert [r["name"] for r in rows] == [v.name for v in run.vendor_list]
    assert abs(sum(r["installed_share"] for r in rows) - 1) < 1e-9
    html = F.vendors_html(rows, 4)
    for v in run.vendor_list:
        assert f'data-vendor="{v.name}"' in html
    # handset profit sits beside total profit, with the losing streak the viability rule counts
    assert html.index("profit $M") < html.index("handset $M") < html.index("losses")
    assert all("pm-handset" in part for part in html.split("<tr data-vendor")[1:])
