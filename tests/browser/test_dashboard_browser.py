"""The dashboard in a real headless Chromium against a real server (see conftest.py)."""

from __future__ import annotations

import json
import re
import statistics
import time

import pytest

from tests.browser.conftest import SWEEP_QUARTERS, SWEEP_RUNS

pytestmark = pytest.mark.browser

FIGURES = ("shares", "cash", "trust", "enforcement", "exposure")


# ------------------------------------------------------------------ helpers
def open_live(page, url: str) -> None:
    page.goto(url)
    page.get_by_role("button", name="Step").wait_for()
    page.wait_for_function(
        """(kinds) => kinds.every(k => {
            const img = document.querySelector('.pm-fig-' + k + ' img');
            return img && img.complete && img.naturalWidth > 100;
        })""",
        arg=list(FIGURES),
    )


def status(page) -> str:
    return page.locator(".pm-status").inner_text()


def quarter(page) -> int:
    return int(re.match(r"Quarter (\d+) of", status(page)).group(1))


def wait_quarter(page, q: int, at_least: bool = False) -> None:
    test = "n >= q" if at_least else "n === q"
    page.wait_for_function(
        f"""(q) => {{
            const el = document.querySelector('.pm-status');
            const m = el && el.textContent.match(/^Quarter (\\d+) of/);
            const n = m ? parseInt(m[1]) : -1;
            return {test};
        }}""",
        arg=q,
    )


def fig_src(page, kind: str) -> str:
    return page.locator(f".pm-fig-{kind} img").get_attribute("src") or ""


def vendor_stance(page, vendor: str) -> str:
    return page.locator(f'tr[data-vendor="{vendor}"] .pm-stance').inner_text()


def no_traceback(page) -> None:
    body = page.locator("body").inner_text()
    assert "Traceback" not in body and "Error in" not in body


# -------------------------------------------------------------------- tests
def test_server_prints_its_address_and_binds_to_localhost(server):
    text = server["log"].read_text()
    assert f"open {server['url']}" in text
    assert "127.0.0.1" in server["url"]


def test_live_page_renders_with_figures_world_and_feed(server, page):
    open_live(page, server["url"])
    assert status(page).startswith("Quarter 0 of 40")
    for kind in FIGURES:
        box = page.locator(f".pm-fig-{kind} img").bounding_box()
        assert box and box["width"] > 300 and box["height"] > 150, kind
    assert page.locator(".pm-tile").count() == 8
    assert page.locator('tr[data-vendor="Aegis"]').count() == 1
    assert "No events yet" in page.locator(".pm-feed-view").inner_text()
    # merely showing the settings changes none of them (sliders snap to their grid)
    time.sleep(0.5)
    assert page.locator(".pm-pending").count() == 0
    assert page.locator(".pm-invalid").count() == 0
    for name in ("Reset", "Step", "▶"):
        assert page.get_by_role("button", name=name).is_visible()
    no_traceback(page)


def test_step_advances_the_quarter_and_changes_the_share_figure(server, page):
    open_live(page, server["url"])
    src = fig_src(page, "shares")
    before = page.locator(".pm-fig-shares").screenshot()
    page.get_by_role("button", name="Step").click()
    wait_quarter(page, 1)
    page.wait_for_function(
        "(old) => document.querySelector('.pm-fig-shares img').src !== old", arg=src
    )
    page.wait_for_function("() => document.querySelector('.pm-fig-shares img').complete")
    after = page.locator(".pm-fig-shares").screenshot()
    assert after != before  # the pixels changed, not only the image's address
    page.get_by_role("button", name="Step").click()
    wait_quarter(page, 2)
    assert "events)" in page.locator(".pm-feed-view").inner_text()


def test_slider_change_and_reset_rebuild_the_model(server, page):
    open_live(page, server["url"])
    page.get_by_role("button", name="Step").click()
    wait_quarter(page, 1)
    assert vendor_stance(page, "Aegis") == "0.95"
    slider = page.get_by_role("slider", name="Aegis privacy stance")
    slider.focus()
    slider.press("Home")  # 0.00
    for _ in range(10):  # ten steps of 0.05
        slider.press("ArrowRight")
    page.get_by_text("Aegis privacy stance: 0.50").wait_for()
    page.locator(".pm-pending").wait_for()  # "press Reset to apply"
    assert vendor_stance(page, "Aegis") == "0.95"  # not applied before Reset
    page.get_by_role("button", name="Reset").click()
    wait_quarter(page, 0)
    page.wait_for_function(
        """() => document.querySelector('tr[data-vendor="Aegis"] .pm-stance')
                   .textContent === '0.50'"""
    )
    assert page.locator(".pm-pending").count() == 0
    page.get_by_role("button", name="Step").click()
    wait_quarter(page, 1)


def test_invalid_value_shows_an_error_and_the_page_keeps_working(server, page):
    open_live(page, server["url"])
    seed = page.get_by_label("Seed")
    seed.fill("abc")
    seed.press("Tab")
    error = page.locator(".pm-invalid")
    error.wait_for()
    assert "seed 'abc' is not a whole number" in error.inner_text()
    page.get_by_role("button", name="Reset").click()
    notice = page.locator(".pm-notice")
    notice.wait_for()
    assert "Not applied" in notice.inner_text()
    page.get_by_role("button", name="Step").click()
    wait_quarter(page, 1)
    no_traceback(page)
    # fix it: the message goes away and Reset uses the new seed
    seed.fill("12")
    seed.press("Tab")
    page.locator(".pm-invalid").wait_for(state="detached")
    page.get_by_role("button", name="Reset").click()
    wait_quarter(page, 0)
    page.locator(".pm-notice").wait_for(state="detached")


def test_two_tabs_are_independent(server, context):
    a, b = context.new_page(), context.new_page()
    open_live(a, server["url"])
    open_live(b, server["url"])
    for _ in range(3):
        a.get_by_role("button", name="Step").click()
        wait_quarter(a, quarter(a) + 1)
    assert quarter(a) == 3
    time.sleep(0.5)
    assert quarter(b) == 0
    b.get_by_role("button", name="Step").click()
    wait_quarter(b, 1)
    assert quarter(a) == 3
    # a setting changed and applied in one tab leaves the other alone
    slider = b.get_by_role("slider", name="Aegis privacy stance")
    slider.focus()
    slider.press("Home")
    b.get_by_role("button", name="Reset").click()
    b.wait_for_function(
        """() => document.querySelector('tr[data-vendor="Aegis"] .pm-stance')
                   .textContent === '0.00'"""
    )
    a.get_by_role("button", name="Step").click()
    wait_quarter(a, 4)
    assert vendor_stance(a, "Aegis") == "0.95"


def test_play_runs_and_pauses(server, page, screenshot_dir):
    open_live(page, server["url"])
    page.get_by_role("button", name="▶").click()
    wait_quarter(page, 12, at_least=True)
    page.get_by_role("button", name="❚❚").click()
    page.get_by_role("button", name="▶").wait_for()
    time.sleep(0.8)  # a step already under way when Pause was clicked may still land
    q = quarter(page)
    time.sleep(1.2)
    assert quarter(page) == q  # paused
    assert page.locator(".pm-feed li").count() > 0
    no_traceback(page)
    if screenshot_dir is not None:
        page.set_viewport_size({"width": 1500, "height": 1500})
        page.wait_for_function("() => document.querySelector('.pm-fig-exposure img').complete")
        page.screenshot(path=str(screenshot_dir / "dashboard-live.png"))


def test_page_works_with_the_network_unavailable(server, browser):
    """Only the local server is reachable; the page must still render in full."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    blocked: list[str] = []

    def only_local(route):
        url = route.request.url
        if url.startswith(server["url"]) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort("internetdisconnected")

    ctx.route("**/*", only_local)
    try:
        page = ctx.new_page()
        open_live(page, server["url"])
        page.get_by_role("button", name="Step").click()
        wait_quarter(page, 1)
        assert page.locator(".pm-tile").count() == 8
        assert blocked == [], f"the page tried to reach the internet: {blocked}"
        # nor did the server have to fetch anything for it (it has no route out either)
        assert "Could not load URL" not in server["log"].read_text()
    finally:
        ctx.close()


def test_step_with_redraw_time_in_the_browser(server, page, record_property):
    """Time from clicking Step to every figure and the quarter being redrawn.

    the target was 300 ms at the default population (50,000
    users). The assertion is generous (shared, noisy machines); the measured
    median is printed and recorded in the test report.
    """
    open_live(page, server["url"])
    times = []
    for _ in range(12):
        before = page.evaluate(
            "() => Array.from(document.querySelectorAll('.pm-figure img')).map(i => i.src)"
        )
        q = quarter(page)
        t0 = time.perf_counter()
        page.get_by_role("button", name="Step").click()
        page.wait_for_function(
            """([before, q]) => {
                const imgs = Array.from(document.querySelectorAll('.pm-figure img'));
                const st = document.querySelector('.pm-status').textContent;
                return imgs.length === before.length
                    && imgs.every((img, k) => img.src !== before[k] && img.complete)
                    && st.startsWith('Quarter ' + (q + 1) + ' ');
            }""",
            arg=[before, q],
            polling="raf",
        )
        times.append(1000 * (time.perf_counter() - t0))
        time.sleep(0.2)
    median = statistics.median(times)
    record_property("step_redraw_ms", json.dumps([round(t) for t in times]))
    print(f"\nstep with redraw, 50,000 users: median {median:.0f} ms, max {max(times):.0f} ms")
    assert median < 1500, times


def test_sweep_explorer_opens_results_and_reruns_a_run_live(server, page, screenshot_dir):
    page.goto(server["url"] + "explorer")
    page.get_by_role("button", name="Open").wait_for()
    assert page.locator(".pm-root").inner_text().startswith("Results root: out ")
    # a path outside the root is refused
    path = page.get_by_label("or type a folder path")
    path.fill("../../..")
    page.get_by_role("button", name="Open").click()
    error = page.locator(".pm-explorer-error")
    error.wait_for()
    assert "outside the results root" in error.inner_text()
    # the sweep made for the tests opens
    path.fill("sweeps/survival-demo")
    page.get_by_role("button", name="Open").click()
    summary = page.locator(".pm-sweep-summary")
    summary.wait_for()
    assert f"{SWEEP_RUNS} runs: {SWEEP_RUNS} ok, 0 failed, 0 missing" in summary.inner_text()
    for part in ("survival", "sensitivity", "distribution"):
        page.wait_for_function(
            f"""() => {{ const i = document.querySelector('.pm-{part} img');
                        return i && i.complete && i.naturalWidth > 100; }}"""
        )
    # the first group (the first privacy stance) holds 3 appetites x 2 replicates
    assert page.get_by_role("button", name=re.compile(r"Rerun \d+")).count() == 6
    no_traceback(page)
    if screenshot_dir is not None:
        page.set_viewport_size({"width": 1500, "height": 1500})
        page.screenshot(path=str(screenshot_dir / "dashboard-explorer.png"))
    # rerun run 3 live: same scenario, parameters and seed; it reproduces the stored outcomes
    page.get_by_role("button", name="Rerun 3").click()
    page.wait_for_url(server["url"])
    page.locator(".pm-source").wait_for()
    assert "run 3 of sweep 'survival-demo'" in page.locator(".pm-source").inner_text()
    assert status(page).startswith(f"Quarter 0 of {SWEEP_QUARTERS}")
    for _ in range(SWEEP_QUARTERS):
        page.get_by_role("button", name="Step").click()
        wait_quarter(page, quarter(page) + 1)
    done = page.locator(".pm-reproduced")
    done.wait_for()
    assert done.inner_text().startswith("Reproduced: all"), done.inner_text()
