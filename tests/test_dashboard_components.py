"""The live page rendered with ``solara.render`` (no browser): controls, Reset, Step, errors."""

from __future__ import annotations

import json
import logging
import time

import ipyvuetify as v
import pytest
import solara
import solara.widgets

from privmarket.dashboard import state
from privmarket.dashboard.app import ErrorBoundary, LivePage
from privmarket.dashboard.live import LiveSettings
from privmarket.sim.model import MarketModel

_OPEN: list = []


@pytest.fixture(autouse=True)
def fresh_session():
    """Outside a server Solara keeps one global session: start each test from scratch."""
    state.settings.value = LiveSettings.for_scenario("baseline").replace(users="3000")
    state.model.value = None
    state.last_good.value = None
    state.notice.value = None
    state.playing.value = False
    state.finished.value = False
    yield
    state.playing.value = False
    while _OPEN:
        _OPEN.pop().close()
    state.model.value = None


class Found:
    """Widgets found on the page (the shape of reacton's ``find`` results)."""

    def __init__(self, widgets: list) -> None:
        self.widgets = widgets

    @property
    def widget(self):
        assert len(self.widgets) == 1, self.widgets
        return self.widgets[0]


class Page:
    """A rendered page, searched through its widget tree as the browser receives it.

    The run's views render in a context of their own (``RenderedApart``), so a
    render context's ``find`` sees only part of the page; the widget tree holds
    all of it.
    """

    def __init__(self, container, rc) -> None:
        self.container, self.rc = container, rc

    def close(self) -> None:
        self.rc.close()

    def all(self):
        todo, seen = [self.container], set()
        while todo:
            w = todo.pop()
            if id(w) in seen:
                continue
            seen.add(id(w))
            yield w
            for child in getattr(w, "children", None) or []:
                if hasattr(child, "comm"):
                    todo.append(child)
            for slot in getattr(w, "v_slots", None) or []:
                kids = slot.get("children")
                for child in kids if isinstance(kids, list) else [kids]:
                    if hasattr(child, "comm"):
                        todo.append(child)

    def find(self, cls, **attrs) -> Found:
        return Found(
            [
                w
                for w in self.all()
                if isinstance(w, cls) and all(getattr(w, k, None) == x for k, x in attrs.items())
            ]
        )


def render() -> Page:
    container, rc = solara.render(solara.AppLayout(children=[LivePage()]), handle_error=False)
    page = Page(container, rc)
    _OPEN.append(page)
    return page


def html(rc, cls: str | None = None) -> str:
    """The inner HTML of the page's HTML blocks (those with CSS class ``cls``)."""
    out = []
    for w in rc.find(solara.widgets.HTML).widgets:
        if cls is None or cls in (w.attributes or {}).get("class", ""):
            out.append(w.unsafe_innerHTML or "")
    return "\n".join(out)


def status(rc) -> str:
    """The status line (the first block of the status view's HTML)."""
    block = html(rc, "pm-status-block")
    return block.split('<div class="pm-status">', 1)[1].split("</div>", 1)[0]


def charts(rc) -> dict[str, list]:
    """The page's Vega charts: name -> rows drawn (sent for all of them in one message)."""
    names = [w.name for w in rc.find(v.VuetifyTemplate).widgets if hasattr(w, "spec")]
    (hub,) = [
        w for w in rc.find(v.VuetifyTemplate).widgets if isinstance(getattr(w, "rows", None), dict)
    ]
    assert sorted(names) == sorted(hub.rows)
    return {name: json.loads(text) for name, text in hub.rows.items()}


def labelled(rc, label: str) -> list:
    """The page's buttons labelled ``label``."""
    return [
        w
        for w in rc.find(v.Btn).widgets
        if label in [c for c in (w.children or []) if isinstance(c, str)]
    ]


def button(rc, label: str):
    found = labelled(rc, label)
    assert len(found) == 1, label
    return found[0]


SECTION_TITLES = {"Governments": "Governments", "Users": "Users and more parameters"}


def open_section(rc, name: str) -> None:
    """Open a closed part of the settings (its controls are drawn only when open)."""
    button(rc, SECTION_TITLES[name]).click()


def slider(rc, label: str):
    found = [w for w in rc.find(v.Slider).widgets if (w.label or "").startswith(label)]
    assert len(found) == 1, [w.label for w in rc.find(v.Slider).widgets]
    return found[0]


def text_field(rc, label: str):
    return rc.find(v.TextField, label=label).widget


def commit(field, value: str) -> None:
    """Type into a text field and leave it (solara commits on focus-out)."""
    field.v_model = value
    field.fire_event("focusout", None)


def alerts(rc, cls: str | None = None) -> str:
    """Text of the page's messages (those with CSS class ``cls``)."""
    return "\n".join(
        str(c)
        for w in rc.find(v.Alert).widgets
        if cls is None or cls in (w.class_ or "")
        for c in (w.children or [])
        if isinstance(c, str)
    )


def vendor_stance(rc, vendor: str) -> str:
    table = html(rc)
    row = table.split(f'data-vendor="{vendor}"', 1)[1]
    return row.split('class="pm-stance">', 1)[1].split("<", 1)[0]


def test_page_renders_six_charts_world_and_feed():
    rc = render()
    drawn = charts(rc)
    assert set(drawn) == {"shares", "cash", "profit", "trust", "enforcement", "exposure"}
    assert all(rows for kind, rows in drawn.items() if kind not in ("profit",))
    assert status(rc).startswith("Quarter 0 of ")
    assert html(rc).count('class="pm-tile"') == len(state.settings.value.country_names)
    assert "No events yet" in html(rc)
    # no leftovers of Mesa's controller
    texts = [str(c) for w in rc.find(v.Html).widgets for c in (w.children or [])]
    assert not [t for t in texts if "Time:" in t or "Use Threads" in t]


def test_step_moves_one_quarter_whatever_the_redraw_interval():
    rc = render()
    state.every.value = 10
    before = charts(rc)
    button(rc, "Step").click()
    assert status(rc).startswith("Quarter 1 of ")
    after = charts(rc)
    assert all(len(after[k]) > len(before[k]) for k in after if k != "enforcement")
    for _ in range(3):
        button(rc, "Step").click()
    assert state.model.value.quarter == 4
    assert status(rc).startswith("Quarter 4 of ")
    assert max(r["q"] for r in charts(rc)["shares"]) == 4


def wait_until(check, timeout: float = 60.0) -> None:
    """Wait on the page's state (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the page did not reach the expected state"
        time.sleep(0.02)


def test_play_stops_at_the_horizon_with_redraws_every_ten_quarters():
    state.settings.value = state.settings.value.replace(extra="quarters=25")
    rc = render()
    state.every.value = 10
    state.play_ms.value = 1
    button(rc, "Play").click()
    # the play loop's thread stops playing, then the page redraws its buttons
    wait_until(lambda: not state.playing.value and labelled(rc, "Play"))
    m = state.model.value
    assert m.quarter == 25 and not m.running and state.finished.value
    assert status(rc).startswith("Quarter 25 of 25") and "run complete" in html(rc)
    assert button(rc, "Step").disabled and button(rc, "Play").disabled
    assert "reached its last quarter (25)" in alerts(rc, "pm-horizon")
    button(rc, "Reset").click()
    assert state.model.value.quarter == 0 and not button(rc, "Step").disabled


def test_slider_change_applies_on_reset_and_gives_the_direct_runs_numbers():
    rc = render()
    model = state.model.value
    slider(rc, "Aegis: privacy stance").v_model = 0.5
    assert state.settings.value.stances[0] == 0.5
    # pending: under Reset, and at the top of the page
    assert "Aegis: privacy stance 0.95 → 0.50" in alerts(rc, "pm-pending")
    assert "not yet applied" in " ".join(
        str(c) for w in rc.find(v.Html).widgets for c in (w.children or [])
    ) or any("not yet applied" in str(w.v_model or "") for w in rc.find(v.Html).widgets)
    assert state.model.value is model and vendor_stance(rc, "Aegis") == "0.95"
    button(rc, "Step").click()
    button(rc, "Reset").click()
    new = state.model.value
    assert new is not model and new.quarter == 0
    assert new.params.vendor("Aegis").stance == 0.5
    assert vendor_stance(rc, "Aegis") == "0.50"
    assert alerts(rc, "pm-pending") == ""
    for _ in range(3):
        button(rc, "Step").click()
    direct = MarketModel(new.params, rng=new.seed)
    for _ in range(3):
        direct.step()
    assert new.summary() == direct.summary()


def test_government_sliders_set_one_country_or_all():
    rc = render()
    open_section(rc, "Governments")
    slider(rc, "every country: surveillance appetite").v_model = 0.9
    assert set(state.settings.value.appetite) == {0.9}
    rc.find(v.Select, label="Government").widget.v_model = "Eastria"
    assert slider(rc, "Eastria: rule of law").label.endswith(
        f"{state.settings.value.rule_of_law[state.settings.value.country_names.index('Eastria')]:.2f}"
    )
    slider(rc, "Eastria: rule of law").v_model = 0.05
    s = state.settings.value
    assert s.rule_of_law[s.country_names.index("Eastria")] == 0.05
    assert sum(x == 0.05 for x in s.rule_of_law) == 1
    button(rc, "Reset").click()
    east = [c for c in state.model.value.params.countries if c.name == "Eastria"][0]
    assert east.rule_of_law == 0.05 and east.appetite == 0.9


def test_slider_snapping_in_the_browser_is_not_a_change():
    """A browser slider snaps an off-grid value (the mean appetite, 0.49...) to its grid
    and reports that; the settings must not change because of it."""
    from privmarket.dashboard.components import snap

    rc = render()
    open_section(rc, "Governments")
    before = state.settings.value
    mean = sum(before.appetite) / len(before.appetite)
    widget = slider(rc, "every country: surveillance appetite")
    assert widget.v_model == snap(mean, 0, 1, 0.05)
    widget.v_model = snap(mean, 0, 1, 0.05) + 1e-12  # what a browser may report on mount
    assert state.settings.value == before
    assert alerts(rc, "pm-pending") == ""
    widget.v_model = 0.25  # a real move
    assert set(state.settings.value.appetite) == {0.25}


def test_invalid_seed_shows_message_and_page_keeps_working():
    rc = render()
    commit(text_field(rc, "Seed"), "abc")
    assert "seed 'abc' is not a whole number" in alerts(rc, "pm-invalid")
    # the field itself is marked, with the message under it
    assert "seed 'abc'" in str(text_field(rc, "Seed").messages)
    assert text_field(rc, "Seed").error
    button(rc, "Reset").click()
    # the run was rebuilt with the last valid settings, and the page says so
    assert state.model.value.seed == 0
    assert "Not applied" in alerts(rc, "pm-notice") and "abc" in alerts(rc, "pm-notice")
    button(rc, "Step").click()
    assert status(rc).startswith("Quarter 1 of ")
    commit(text_field(rc, "Seed"), "5")
    assert alerts(rc, "pm-invalid") == ""
    button(rc, "Reset").click()
    assert state.model.value.seed == 5
    assert alerts(rc, "pm-notice") == "" and state.notice.value is None


def test_invalid_extra_parameter_names_the_field():
    rc = render()
    open_section(rc, "Users")
    area = rc.find(v.Textarea).widget
    commit(area, "hazard=7")
    message = alerts(rc, "pm-invalid")
    assert "hazard" in message and "7" in message and "[0" in message
    button(rc, "Reset").click()
    assert state.model.value.params.hazard != 7
    commit(area, "hazard=0.3")
    button(rc, "Reset").click()
    assert state.model.value.params.hazard == 0.3


def test_scenario_picker_loads_the_scenarios_values():
    from privmarket.sim.scenarios import get_scenario, list_scenarios

    names = list_scenarios()
    other = names[-1]
    rc = render()
    rc.find(v.Select, label="Scenario").widget.v_model = other
    s = state.settings.value
    assert s.scenario == other
    assert s.vendor_names == tuple(x.name for x in get_scenario(other).params.vendors)
    assert s.users == str(get_scenario(other).params.n_users)
    button(rc, "Reset").click()
    assert state.model.value.scenario_name == other


def test_two_sessions_have_their_own_model(monkeypatch):
    """Inside the server each browser session is a kernel context with its own state."""
    import solara.toestand
    from solara.server import kernel, kernel_context

    # Outside the server Solara keeps one global scope; inside it, one per kernel.
    monkeypatch.setattr(solara.toestand, "_using_solara_server", lambda: True)
    sessions = [
        kernel_context.VirtualKernelContext(id=f"s{i}", session_id=f"s{i}", kernel=kernel.Kernel())
        for i in range(2)
    ]
    pages = []
    try:
        for ctx in sessions:
            with ctx:
                state.settings.value = LiveSettings.for_scenario("baseline").replace(users="2000")
                pages.append(render())
        with sessions[0]:
            slider(pages[0], "Aegis: privacy stance").v_model = 0.2
            button(pages[0], "Reset").click()
            for _ in range(3):
                button(pages[0], "Step").click()
            a = state.model.value
        with sessions[1]:
            b = state.model.value
            assert b.quarter == 0 and b.params.vendor("Aegis").stance == 0.95
            button(pages[1], "Step").click()
        assert a is not b and a.quarter == 3 and b.quarter == 1
        assert a.params.vendor("Aegis").stance == 0.2
    finally:
        for ctx, rc in zip(sessions, pages, strict=False):
            with ctx:
                _OPEN.remove(rc)
                rc.close()
                state.model.value = None


def test_reset_passes_the_models_scenario_back_as_mesa_does():
    """SolaraViz's Reset calls the model class with the model's own ``scenario`` (a Mesa
    Scenario object); the page's Reset does the same, and the settings still decide."""
    from mesa.experimental.scenarios import Scenario

    rc = render()
    assert isinstance(state.model.value.scenario, Scenario)
    slider(rc, "Orchard: privacy stance").v_model = 0.1
    button(rc, "Reset").click()
    assert state.model.value.params.vendor("Orchard").stance == 0.1


def test_error_boundary_shows_one_line_and_logs_the_traceback(caplog):
    @solara.component
    def Broken():
        clicked, set_clicked = solara.use_state(False)
        if clicked:
            raise RuntimeError("boom\nwith a second line")
        solara.Button("Break", on_click=lambda: set_clicked(True))

    @solara.component
    def Page():
        solara.Text("the page around it")
        with ErrorBoundary():
            Broken()

    _, rc = solara.render(Page(), handle_error=False)
    _OPEN.append(rc)
    with caplog.at_level(logging.ERROR, logger="privmarket.dashboard"):
        rc.find(v.Btn, children=["Break"]).widget.click()
    message = alerts(rc, "pm-error-boundary")
    assert "RuntimeError: boom with a second line" in message and "\n" not in message
    assert "Traceback" in caplog.text and "boom" in caplog.text
    # the page around the boundary is still there
    assert rc.find(v.Html, children=["the page around it"]).widgets
    rc.find(v.Btn, children=["Show the page again"]).widget.click()
    assert alerts(rc, "pm-error-boundary") == ""
