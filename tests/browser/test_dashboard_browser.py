"""The dashboard in a real headless Chromium against a real server (see conftest.py).

User flows: every tab, button and control is clicked once; both themes at
1024 and 1400 px; a long path in the explorer; a run to the horizon redrawn
every 10 quarters. Every context refuses requests to anything but the local
server and fails the test on any console error. Waits are on the page's
state, never fixed sleeps.
"""

from __future__ import annotations

import json
import re
import statistics

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SWEEP_QUARTERS, SWEEP_RUNS, open_context

pytestmark = pytest.mark.browser

CHARTS = ("shares", "cash", "profit", "trust", "enforcement", "exposure")
STATUS_Q = r"/^Quarter (\d+) of/"


# ------------------------------------------------------------------ helpers
def charts_drawn(page, names=CHARTS) -> None:
    page.wait_for_function(
        """(names) => names.every(n => {
            const el = document.querySelector('.pm-vega[data-chart="' + n + '"]');
            return el && Number(el.dataset.drawn) > 0 && el.querySelector('canvas');
        })""",
        arg=list(names),
    )


def open_live(page, url: str) -> None:
    page.goto(url)
    page.get_by_role("button", name="Step").wait_for()
    charts_drawn(page)


def status(page) -> str:
    return page.locator(".pm-status").inner_text()


def quarter(page) -> int:
    return int(re.match(r"Quarter (\d+) of", status(page)).group(1))


def wait_quarter(page, q: int) -> None:
    page.wait_for_function(
        """(q) => {
            const el = document.querySelector('.pm-status');
            const m = el && el.textContent.match(/^Quarter (\\d+) of/);
            return m && parseInt(m[1]) === q;
        }""",
        arg=q,
    )


def wait_button(page, name: str, enabled: bool) -> None:
    """Wait until the button named ``name`` is enabled (or disabled)."""
    page.wait_for_function(
        """([name, enabled]) => {
            const b = [...document.querySelectorAll('button')].find(b => b.textContent.trim() === name);
            return b && b.disabled === !enabled;
        }""",
        arg=[name, enabled],
    )


def vendor_stance(page, vendor: str) -> str:
    return page.locator(f'tr[data-vendor="{vendor}"] .pm-stance').inner_text()


def no_traceback(page) -> None:
    body = page.locator("body").inner_text()
    assert "Traceback" not in body and "Error in" not in body


CONTRAST = """(selectors) => {
    const rgba = (c) => {
        const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
        const v = m[1].split(',').map(Number);
        return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1];
    };
    const lum = ([r, g, b]) => {
        const lin = [r, g, b].map(v => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
    };
    const background = (el) => {
        for (let e = el; e; e = e.parentElement) {
            const c = rgba(getComputedStyle(e).backgroundColor);
            if (c && c[3] > 0) return c;
        }
        return [255, 255, 255, 1];
    };
    const out = {};
    for (const sel of selectors) {
        const el = document.querySelector(sel);
        if (!el) { out[sel] = null; continue; }
        const bg = background(el), fg = rgba(getComputedStyle(el).color);
        // a translucent text colour is what it looks like over its background
        const seen = [0, 1, 2].map(i => fg[i] * fg[3] + bg[i] * (1 - fg[3]));
        const a = lum(seen), b = lum(bg);
        out[sel] = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    }
    return out;
}"""
#: Text the issue found white on white in the dark theme, and the rest of the page's own text.
READABLE = [
    ".v-tab--active",
    ".v-tab:not(.v-tab--active)",
    ".pm-status",
    ".pm-vendors td",
    ".pm-vendors th",
    ".pm-tile b",
    ".pm-tile-sub",
    ".pm-legend",
    ".pm-feed",
    ".pm-hint",
    ".pm-badge",
]


def assert_readable(page, selectors) -> None:
    ratios = page.evaluate(CONTRAST, selectors)
    for sel, ratio in ratios.items():
        assert ratio is not None, f"{sel} not on the page"
        assert ratio >= 4.5, f"{sel}: contrast {ratio:.2f} < 4.5"


# -------------------------------------------------------------------- tests
def test_server_prints_its_address_and_binds_to_localhost(server):
    text = server["log"].read_text()
    assert f"open {server['url']}" in text
    assert "127.0.0.1" in server["url"]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1024, 1400])
def test_both_pages_are_readable_in_both_themes_and_widths(
    browser, server, scheme, width, screenshot_dir
):
    ctx, watch = open_context(browser, server, width=width, height=1000, scheme=scheme)
    try:
        page = ctx.new_page()
        open_live(page, server["url"])
        dark = page.evaluate("() => !!document.querySelector('.v-application.theme--dark')")
        assert dark == (scheme == "dark")  # the page follows the browser's preference
        page.get_by_role("button", name="Step").click()
        wait_quarter(page, 1)
        charts_drawn(page)
        assert_readable(page, READABLE)
        # the charts follow the theme (Vega's dark theme: light text on the dark page)
        assert page.locator(f'.pm-vega[data-theme="{scheme}"]').count() == len(CHARTS)
        # the vendor table is never cut off: it fits, or scrolls inside its own box
        fits = page.evaluate(
            """() => { const t = document.querySelector('.pm-vendors');
                       const w = document.querySelector('.pm-table-wrap');
                       return t.getBoundingClientRect().right <= w.getBoundingClientRect().right + 1
                              || w.scrollWidth > w.clientWidth; }"""
        )
        assert fits
        # nothing wider than the window
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width + 1
        no_traceback(page)
        if screenshot_dir is not None:
            page.screenshot(
                path=str(screenshot_dir / f"dashboard-live-{scheme}-{width}.png"), full_page=False
            )
            if (scheme, width) == ("light", 1400):  # the README's picture
                page.screenshot(path=str(screenshot_dir / "dashboard-live.png"))
        page.locator(".v-tab", has_text="Sweep explorer").click()
        page.get_by_role("button", name="Open", exact=True).wait_for()
        page.get_by_label("or type a folder path").fill("sweeps/survival-demo")
        page.get_by_role("button", name="Open", exact=True).click()
        charts_drawn(page, ("survival", "sensitivity", "distribution"))
        assert_readable(page, [".pm-sweep-summary", ".pm-run-text", ".pm-root", ".pm-hint"])
        no_traceback(page)
        if screenshot_dir is not None:
            page.screenshot(
                path=str(screenshot_dir / f"dashboard-explorer-{scheme}-{width}.png"),
                full_page=False,
            )
            if (scheme, width) == ("light", 1400):
                page.screenshot(path=str(screenshot_dir / "dashboard-explorer.png"))
        watch.check()
    finally:
        ctx.close()


def test_tabs_work_by_clicking(page, server):
    open_live(page, server["url"])
    page.locator(".v-tab", has_text="Sweep explorer").click()
    page.wait_for_url(server["url"] + "explorer")
    page.get_by_role("button", name="Open", exact=True).wait_for()
    page.locator(".v-tab", has_text="Live run").click()
    page.wait_for_url(server["url"])
    page.get_by_role("button", name="Step").wait_for()
    charts_drawn(page)
    no_traceback(page)


def test_every_control_of_the_live_page(page, server):
    """Click every button and move every control of the live page once."""
    open_live(page, server["url"])
    assert status(page).startswith("Quarter 0 of 40")
    assert page.locator(".pm-tile").count() == 8
    assert "No events yet" in page.locator(".pm-feed-view").inner_text()
    body = page.locator("body").inner_text()
    assert "Time: 0.0" not in body and "Use Threads" not in body
    # Step: one quarter, every chart redrawn
    page.get_by_role("button", name="Step").click()
    wait_quarter(page, 1)
    # hover a chart: the values at that quarter
    box = page.locator('.pm-vega[data-chart="shares"] canvas').bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.15, box["y"] + box["height"] * 0.5)
    tip = page.locator("#vg-tooltip-element")
    tip.wait_for(state="visible")
    assert "Aegis installed base" in tip.inner_text()
    page.mouse.move(0, 0)
    # Play and Pause
    page.get_by_role("button", name="Play").click()
    page.wait_for_function(
        "() => /^Quarter ([3-9]|\\d\\d) of/.test(document.querySelector('.pm-status').textContent)"
    )
    page.get_by_role("button", name="Pause").click()
    page.get_by_role("button", name="Play").wait_for()
    # the play sliders
    for name in ("Play pause", "Redraw every"):
        slider = page.get_by_role("slider", name=re.compile(name))
        slider.focus()
        slider.press("ArrowRight")
    page.get_by_text(re.compile(r"Redraw every 2 q")).wait_for()
    # the event log in full: filters and CSV
    page.get_by_role("button", name="Full event log").click()
    page.locator(".pm-events-table").wait_for()
    for label, option in (("Country", "Eastria"), ("Vendor", "Open"), ("Kind", "demand")):
        page.locator(".pm-event-log .v-select", has_text=label).click()
        page.locator(".menuable__content__active .v-list-item", has_text=option).first.click()
    # the menu closes at once, the server's filtered table comes a round trip later:
    # wait for the table to list demands only before reading the count
    page.wait_for_function(
        """() => {
            const rows = [...document.querySelectorAll('.pm-events-table tr[data-kind]')];
            return rows.length > 0 && rows.every(r => r.dataset.kind === 'demand');
        }"""
    )
    count = page.locator(".pm-events-count").inner_text()
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile(r"Download CSV")).click()
    text = download.value.path().read_text()
    assert text.splitlines()[0] == "quarter,label,kind,actor,target,sentence"
    assert int(count.split(" of ")[0]) == len(text.splitlines()) - 1
    for row in text.splitlines()[1:]:
        assert ",demand,Eastria,Open," in row
    page.get_by_role("button", name="Hide full log").click()
    # every settings section, and every control in them
    for section in ("Governments", "Users and more parameters"):
        page.get_by_role("button", name=section).click()
    page.get_by_role("button", name="Vendors").click()  # closes
    page.get_by_role("button", name="Vendors").click()  # opens again
    for name in (
        "Aegis: privacy stance",
        "Orchard: privacy stance",
        "Open: privacy stance",
        "Local: privacy stance",
        "every country: surveillance appetite",
        "every country: rule of law",
        "Multiplier on all privacy sensitivities",
        "consumer",
        "enterprise",
        "government",
    ):
        slider = page.get_by_role("slider", name=re.compile(name))
        slider.focus()
        slider.press("ArrowLeft")
        page.get_by_text(re.compile(name)).first.wait_for()
    page.locator(".pm-pending").wait_for()
    expect(page.locator(".pm-pending-top")).to_contain_text("not yet applied")
    page.locator(".v-select", has_text="Aegis: how it answers demands").click()
    page.locator(".menuable__content__active .v-list-item", has_text="adaptive").first.click()
    page.locator(".v-select", has_text="Government").first.click()
    page.locator(".menuable__content__active .v-list-item", has_text="Eastria").first.click()
    page.get_by_label("Other parameters (name=value, one per line)").fill("hazard=0.2")
    page.keyboard.press("Tab")
    page.get_by_text(re.compile("other parameters")).first.wait_for()
    # apply from the bar at the top
    page.get_by_role("button", name="Apply now").click()
    wait_quarter(page, 0)
    page.locator(".pm-pending").wait_for(state="detached")
    assert vendor_stance(page, "Aegis") == "0.90"
    # Reset, Step again
    page.get_by_role("button", name="Reset", exact=True).click()
    page.get_by_role("button", name="Step").click()
    wait_quarter(page, 1)
    # the scenario picker
    page.locator(".v-select", has_text="Scenario").click()
    page.locator(
        ".menuable__content__active .v-list-item", has_text="platform-decline"
    ).first.click()
    page.locator(".pm-pending").wait_for()
    page.get_by_role("button", name="Reset", exact=True).click()
    page.locator(".pm-pending").wait_for(state="detached")
    charts_drawn(page)
    # the theme switch: dark, and back
    page.locator(".v-app-bar button").last.click()
    page.wait_for_function("() => !!document.querySelector('.v-application.theme--dark')")
    charts_drawn(page)
    no_traceback(page)


def test_invalid_values_mark_the_field_and_the_page_keeps_working(page, server):
    open_live(page, server["url"])
    seed = page.get_by_label("Seed")
    seed.fill("abc")
    seed.press("Tab")
    # marked at the field, under Reset, and at the top of the page
    page.locator(".v-input.error--text", has_text="Seed").wait_for()
    expect(page.locator(".pm-invalid")).to_contain_text("seed 'abc' is not a whole number")
    expect(page.locator(".pm-pending-top")).to_contain_text("Invalid settings")
    page.get_by_role("button", name="Reset", exact=True).click()
    expect(page.locator(".pm-notice")).to_contain_text("Not applied")
    page.get_by_role("button", name="Step").click()
    wait_quarter(page, 1)
    no_traceback(page)
    seed.fill("12")
    seed.press("Tab")
    page.locator(".pm-invalid").wait_for(state="detached")
    page.get_by_role("button", name="Reset", exact=True).click()
    wait_quarter(page, 0)
    page.locator(".pm-notice").wait_for(state="detached")


def test_slider_and_reset_rebuild_the_model(page, server):
    open_live(page, server["url"])
    page.get_by_role("button", name="Step").click()
    wait_quarter(page, 1)
    assert vendor_stance(page, "Aegis") == "0.95"
    slider = page.get_by_role("slider", name=re.compile("Aegis: privacy stance"))
    slider.focus()
    slider.press("Home")
    for _ in range(10):
        slider.press("ArrowRight")
    page.get_by_text("Aegis: privacy stance: 0.50").wait_for()
    expect(page.locator(".pm-pending")).to_contain_text("0.95 → 0.50")
    assert vendor_stance(page, "Aegis") == "0.95"  # not applied before Reset
    page.get_by_role("button", name="Reset", exact=True).click()
    wait_quarter(page, 0)
    page.wait_for_function(
        """() => document.querySelector('tr[data-vendor="Aegis"] .pm-stance')
                   .textContent === '0.50'"""
    )
    page.get_by_role("button", name="Step").click()
    wait_quarter(page, 1)


def test_a_run_to_the_horizon_redrawn_every_ten_quarters(page, server):
    open_live(page, server["url"])
    users = page.get_by_label("Users (simulated)")
    users.fill("20000")
    users.press("Tab")
    page.get_by_role("button", name="Reset", exact=True).click()
    page.locator(".pm-pending").wait_for(state="detached")
    every = page.get_by_role("slider", name=re.compile("Redraw every"))
    every.focus()
    every.press("Home")
    for _ in range(9):
        every.press("ArrowRight")
    page.get_by_text("Redraw every 10 q.").wait_for()
    page.evaluate(
        """() => { window.__max = 0; new MutationObserver(() => {
            const m = document.querySelector('.pm-status').textContent.match(/^Quarter (\\d+) of (\\d+)/);
            if (m) window.__max = Math.max(window.__max, parseInt(m[1]));
        }).observe(document.body, {subtree: true, childList: true, characterData: true}); }"""
    )
    page.get_by_role("button", name="Play").click()
    page.locator(".pm-horizon").wait_for()
    wait_quarter(page, 40)
    assert status(page).startswith("Quarter 40 of 40") and "run complete" in status(page)
    assert page.evaluate("() => window.__max") == 40
    wait_button(page, "Step", enabled=False)
    wait_button(page, "Play", enabled=False)
    assert "last quarter (40)" in page.locator(".pm-horizon").inner_text()
    charts_drawn(page)
    page.get_by_role("button", name="Reset", exact=True).click()
    wait_quarter(page, 0)
    wait_button(page, "Step", enabled=True)
    assert page.evaluate("() => window.__max") == 40  # never past the horizon


#: The names at the lines' ends, as drawn: ``[name, y in px]`` per end of the chart's view.
END_NAMES = """(chart) => {
    const view = document.querySelector('.pm-vega[data-chart="' + chart + '"]').__vue__.view;
    const found = [];
    const walk = (node) => {
        if (node.marktype === 'text' && node.role === 'mark')
            for (const item of node.items) found.push([item.text, item.y]);
        for (const child of node.items || []) walk(child);
    };
    walk(view.scenegraph().root);
    return found;
}"""


def test_names_at_the_lines_ends_do_not_overlap(page, server):
    """Two lines ending close together (in seed 0's first quarter Aegis and Orchard
    make nearly the same profit) keep their names apart: every two names at least
    a line of text apart, in every chart and quarter looked at."""
    open_live(page, server["url"])
    for q in range(1, 9):
        page.get_by_role("button", name="Step").click()
        wait_quarter(page, q)
        if q not in (1, 2, 8):
            continue
        charts_drawn(page)
        for chart in CHARTS:
            page.wait_for_function(
                "(c) => { const e = document.querySelector('.pm-vega[data-chart=\"' + c + '\"]');"
                " return e.__vue__.shown === e.__vue__.current(); }",
                arg=chart,
            )
            names = sorted(page.evaluate(END_NAMES, chart), key=lambda n: n[1])
            if chart == "profit":
                assert [n for n, _ in sorted(names)] == ["Aegis", "Local", "Open", "Orchard"]
            gaps = [b[1] - a[1] for a, b in zip(names, names[1:], strict=False)]
            assert min(gaps, default=11) >= 11, (q, chart, names)


def test_two_tabs_are_independent(server, context):
    a, b = context.new_page(), context.new_page()
    open_live(a, server["url"])
    open_live(b, server["url"])
    for i in range(3):
        a.get_by_role("button", name="Step").click()
        wait_quarter(a, i + 1)
    assert quarter(b) == 0
    b.get_by_role("button", name="Step").click()
    wait_quarter(b, 1)
    assert quarter(a) == 3
    slider = b.get_by_role("slider", name=re.compile("Aegis: privacy stance"))
    slider.focus()
    slider.press("Home")
    b.get_by_role("button", name="Reset", exact=True).click()
    b.wait_for_function(
        """() => document.querySelector('tr[data-vendor="Aegis"] .pm-stance')
                   .textContent === '0.00'"""
    )
    a.get_by_role("button", name="Step").click()
    wait_quarter(a, 4)
    assert vendor_stance(a, "Aegis") == "0.95"


#: In the page: from Step's click to the new quarter and every chart redrawn.
TIME_STEP = """async () => {
    const drawn = () => [...document.querySelectorAll('.pm-vega')].map(e => e.dataset.drawn);
    const before = drawn();
    const q = parseInt(document.querySelector('.pm-status').textContent.match(/^Quarter (\\d+)/)[1]);
    const button = [...document.querySelectorAll('button')].find(b => b.textContent.trim() === 'Step');
    const t0 = performance.now();
    button.click();
    return await new Promise(resolve => {
        const check = () => {
            const now = drawn();
            const st = document.querySelector('.pm-status').textContent;
            if (st.startsWith('Quarter ' + (q + 1) + ' ') && now.every((d, k) => d !== before[k]))
                resolve(performance.now() - t0);
            else requestAnimationFrame(check);
        };
        requestAnimationFrame(check);
    });
}"""


@pytest.mark.parametrize("intercept", [True, False])
def test_the_watch_catches_a_request_that_is_not_local_either_way(browser, server, intercept):
    """The timing test only watches requests; a page asking the internet still fails it."""
    ctx, watch = open_context(browser, server, intercept=intercept)
    try:
        page = ctx.new_page()
        page.goto(server["url"] + "readyz")
        # awaited until the request has failed: by then the watch has seen it either way
        page.evaluate("() => fetch('http://cdn.invalid/katex.min.js').catch(() => null)")
        assert watch.not_local == ["http://cdn.invalid/katex.min.js"]
        with pytest.raises(AssertionError, match="not local"):
            watch.check()
    finally:
        ctx.close()


def test_step_with_redraw_and_first_load_time_in_the_page(browser, server, record_property):
    """Measured in the page at the default population (50,000 users).

    First load: from navigation start to every chart drawn (the page's own
    clock). Step: from the click to the new quarter and all six charts drawn,
    over 20 steps after 2 unmeasured ones. The figures are recorded in the
    test report and printed; the bounds here are generous (shared, loaded
    machines): the targets and the measured figures are in docs/dashboard.md.
    Requests are watched, not intercepted, so the browser loads the page as a
    user's would (its cache on, no request held up by the test).
    """
    ctx, watch = open_context(browser, server, intercept=False)
    try:
        page = ctx.new_page()
        loads = []
        for _ in range(3):
            page.goto(server["url"])
            charts_drawn(page)
            loads.append(page.evaluate("() => performance.now()"))
        # the charts' compiled Vega specs are kept for the next load (one per chart and theme)
        kept = page.evaluate(
            "() => Object.keys(localStorage).filter(k => k.startsWith('pm-vega-spec:')).length"
        )
        assert kept >= 6, kept
        times = []
        for i in range(22):
            ms = page.evaluate(TIME_STEP)
            if i >= 2:
                times.append(ms)
        median, load = statistics.median(times), statistics.median(loads[1:])
        record_property(
            "dashboard_timing_ms",
            json.dumps(
                {"step": [round(t) for t in times], "first_load": [round(x) for x in loads]}
            ),
        )
        print(
            f"\nstep with redraw, 50,000 users: median {median:.0f} ms, max {max(times):.0f} ms; "
            f"first load to all charts: {[round(x) for x in loads]} ms"
        )
        assert median < 1500 and load < 20_000, (times, loads)
        watch.check()
    finally:
        ctx.close()


def test_sweep_explorer_long_path_charts_and_a_live_rerun(page, server):
    page.goto(server["url"] + "explorer")
    page.get_by_role("button", name="Open", exact=True).wait_for()
    assert page.locator(".pm-root").inner_text().startswith("Results root: out ")
    path = page.get_by_label("or type a folder path")
    for text, why in (
        ("../../..", "outside the results root"),
        ("x" * 300, "cannot open"),
        ("sweeps/" + "y" * 256 + "/z", "cannot open"),
    ):
        path.fill(text)
        page.get_by_role("button", name="Open", exact=True).click()
        page.wait_for_function(
            """(why) => { const e = document.querySelector('.pm-explorer-error');
                          return e && e.textContent.includes(why); }""",
            arg=why,
        )
        no_traceback(page)
    path.fill("sweeps/survival-demo")
    page.get_by_role("button", name="Open", exact=True).click()
    summary = page.locator(".pm-sweep-summary")
    summary.wait_for()
    assert f"{SWEEP_RUNS} runs: {SWEEP_RUNS} ok, 0 failed, 0 missing" in summary.inner_text()
    assert "Aegis: privacy stance" in summary.inner_text()  # labels, not raw paths
    charts_drawn(page, ("survival", "sensitivity", "distribution"))
    # hover a cell of the survival map: its value and run count
    box = page.locator('.pm-vega[data-chart="survival"] canvas').bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.45)
    tip = page.locator("#vg-tooltip-element")
    tip.wait_for(state="visible")
    assert "runs" in tip.inner_text()
    page.mouse.move(0, 0)
    # every select of the explorer once
    for label, option in (
        ("Outcome", "privacy exposure"),
        ("vendor", "Orchard"),
        ("group by", "design point"),
    ):
        before = page.locator('.pm-vega[data-chart="distribution"]').get_attribute("data-drawn")
        page.locator(".v-select", has_text=label).first.click()
        page.locator(".menuable__content__active .v-list-item", has_text=option).first.click()
        if label != "vendor":
            page.wait_for_function(
                """(b) => { const e = document.querySelector('.pm-vega[data-chart="distribution"]');
                            return e && e.dataset.drawn !== b; }""",
                arg=before,
            )
    charts_drawn(page, ("survival", "sensitivity", "distribution"))
    assert "%" in page.locator(".pm-run-text").first.inner_text()  # exposure in %, as live
    no_traceback(page)
    # rerun a run live: it reproduces its stored outcomes
    page.get_by_role("button", name=re.compile(r"^Rerun \d+$")).first.click()
    page.wait_for_url(server["url"])
    page.locator(".pm-source").wait_for()
    assert status(page).startswith(f"Quarter 0 of {SWEEP_QUARTERS}")
    for q in range(1, SWEEP_QUARTERS + 1):
        page.get_by_role("button", name="Step").click()
        wait_quarter(page, q)
    done = page.locator(".pm-reproduced")
    done.wait_for()
    assert done.inner_text().startswith("Reproduced: all"), done.inner_text()
    wait_button(page, "Step", enabled=False)  # the sweep's last quarter is the run's horizon


def test_server_log_has_no_warnings_or_tracebacks(server):
    """After all the flows above: no cookie warning per page load, no traceback."""
    text = server["log"].read_text()
    assert "samesite" not in text.lower()
    assert "Traceback" not in text
