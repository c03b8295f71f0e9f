"""Dashboard logic without a browser: settings, the live model, figures, world view, feed."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from privmarket.dashboard import figures as F
from privmarket.dashboard.live import (
    MAX_USERS,
    LiveModel,
    LiveSettings,
    check,
    parse_extra,
    parse_seed,
    parse_users,
    resolve,
)
from privmarket.sim.model import MarketModel
from privmarket.sim.params import ParameterError
from privmarket.sim.scenarios import get_scenario, list_scenarios
from privmarket.sim.vocabulary import Presence


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
    """Mesa's "Use Threads" steps in one thread and redraws in another: a view reading
    the model holds its lock, and a step waits for it (no half-done quarter is drawn)."""
    import threading

    m = LiveModel(settings=small())
    with F.reading(m):
        t = threading.Thread(target=m.step)
        t.start()
        t.join(0.3)
        assert t.is_alive() and m.quarter == 0
    t.join(10)
    assert not t.is_alive() and m.quarter == 1
    assert len(F.table_of(m)) == 2


def test_live_model_accepts_what_mesa_reset_passes():
    # Mesa's Reset passes its own Scenario object as `scenario=`; it must be ignored.
    from mesa.experimental.scenarios import Scenario

    m = LiveModel(settings=small(seed="4"), scenario=Scenario(rng=None))
    assert m.seed == 4 and m.scenario_name == "baseline"


# ------------------------------------------------------------------ figures
@pytest.fixture(scope="module")
def run():
    return MarketModel(n_users=4000, rng=2, **{"countries.*.appetite": 0.9}).run(16)


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize("kind", list(F.CHARTS))
def test_blitted_chart_matches_a_full_redraw(run, kind):
    table = run.table()
    chart = F.CHARTS[kind](table.iloc[:3], 16)
    chart.png(table.iloc[:3])  # background drawn for the first quarters
    for n in range(4, len(table) + 1):
        fast = chart.png(table.iloc[:n])  # then lines only, or axes again if limits grew
    # A plain full draw of the same figure (same limits), every artist in order.
    chart.canvas.draw()
    a = decode(fast)
    b = np.asarray(chart.canvas.buffer_rgba())[:, :, :3].astype(np.int16)
    assert a.shape == b.shape
    differ = np.abs(a - b).max(axis=2) > 40
    # Lines drawn over the axes (blitting) or under the spines (full draw) may
    # differ on a few edge pixels, never more.
    assert differ.mean() < 0.003, f"{kind}: {differ.mean():.4f} of pixels differ"


def test_chart_limits_grow_only_when_the_data_leave_them(run):
    table = run.table()
    chart = F.enforcement_chart(table, 16)
    changes = [chart.update(table.iloc[:n]) for n in range(1, len(table) + 1)]
    assert changes[0] is True
    assert sum(changes) <= 3  # a handful of redraws of the axes over 16 quarters
    lo, hi = chart.axes[0].get_ylim()
    assert lo == 0 and hi >= table["demands"].max()


def test_nice_ceil():
    assert [F.nice_ceil(x) for x in (0.7, 1, 1.2, 3, 24, 260)] == [1, 1, 2, 5, 25, 500]


def test_static_figures_draw_every_series(run):
    table = run.table()
    fig = F.figure("shares", table, 16)
    names = F.vendor_names(table)
    # installed and sales share per vendor
    assert len(fig.axes[0].lines) == 2 * len(names)
    assert F.png(fig)[:8] == b"\x89PNG\r\n\x1a\n"


def test_table_cache_is_per_model_and_per_quarter():
    a = MarketModel(n_users=1000, rng=1)
    b = MarketModel(n_users=1000, rng=1)
    ta, tb = F.table_of(a), F.table_of(b)
    assert ta is F.table_of(a) and ta is not tb
    a.step()
    assert len(F.table_of(a)) == 2 and len(F.table_of(b)) == 1


# --------------------------------------------------------- world and feed
def test_world_state_shows_presence_bans_exits_and_access():
    m = MarketModel(n_users=3000, rng=0)
    m.step()
    aegis, orchard, open_ = m.vendor_list[0], m.vendor_list[1], m.vendor_list[2]
    aegis.presence[2] = Presence.BANNED
    orchard.presence[3] = Presence.EXITED
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


def test_the_feed_words_events_with_the_models_one_renderer(run):
    rows = run.event_frame().to_dict("records")
    for row, (_, sentence, _) in zip(rows[::-1], F.feed_items(rows, last=len(rows)), strict=True):
        assert sentence == row["sentence"]


def test_feed_is_newest_first_and_covers_a_real_run(run):
    rows = run.event_frame().to_dict("records")
    assert len(rows) > 5
    items = F.feed_items(rows, last=500)
    assert len(items) == len(rows)
    assert items[0][0] == rows[-1]["label"] and items[-1][0] == rows[0]["label"]
    for _, sentence, _ in items:
        assert sentence[0].isupper() and sentence.endswith(".")
        assert "{" not in sentence and "None" not in sentence
    html = F.feed_html(rows, last=10)
    assert html.count("<li") == 10 and "earlier events" in html
    assert "No events yet" in F.feed_html([])


def test_status_and_vendor_table(run):
    line = F.status_line(run)
    assert line.startswith("Quarter 16 of 40 (")
    rows = F.vendor_rows(run)
    assert [r["name"] for r in rows] == [v.name for v in run.vendor_list]
    assert abs(sum(r["installed_share"] for r in rows) - 1) < 1e-9
    html = F.vendors_html(rows)
    for v in run.vendor_list:
        assert f'data-vendor="{v.name}"' in html
