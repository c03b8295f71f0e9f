"""Interactive charts: Vega-Lite specs drawn in the page, offline.

Solara's own ``FigureAltair`` asks a CDN for ``vega@5`` (a version range the
installed assets cannot answer), so it fails without internet. The
``solara-assets`` package installs exact builds of vega, vega-lite and
vega-embed, which the server serves itself; :func:`VegaChart` loads those
(versions found in the installed assets) and keeps one Vega view per chart,
replacing only its data set ``rows`` on a redraw.

The page starts loading those libraries as soon as its own scripts have run
(:func:`preload_script`, served by ``privmarket dashboard`` as the page's
``custom.js``), while it waits for the server to build the session's model and
page; a chart that mounts before that has started loads them itself.

Specs are plain Vega-Lite 5 dictionaries (:mod:`privmarket.dashboard.charts`
builds them) whose data is ``{"name": "rows"}``; the rows are a list of flat
records. Hover shows the values (Vega's tooltip handler, bundled in vega-embed).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import solara
import solara.lab

#: The builds used when the installed assets cannot be listed (solara-assets 1.58.2 ships these).
DEFAULT_VERSIONS = {"vega": "5.21.0", "vega-lite": "5.2.0", "vega-embed": "6.20.2"}


def assets_dir() -> Path:
    """Where the server serves its front-end assets from (``/_solara/cdn``)."""
    import solara.server.settings

    return Path(solara.server.settings.assets.proxy_cache_dir)


def installed_versions(folder: Path | None = None) -> dict[str, str]:
    """The exact vega, vega-lite and vega-embed builds present in the installed assets.

    The newest build of each package present is used; a missing package falls
    back to :data:`DEFAULT_VERSIONS` (and the browser tests then fail on the
    request it makes, rather than the page silently fetching it from the internet).
    """
    folder = folder or assets_dir()
    found = dict(DEFAULT_VERSIONS)
    for name in found:
        builds = []
        for entry in folder.glob(f"{name}@*") if folder.is_dir() else ():
            version = entry.name.split("@", 1)[1]
            main = entry / "build" / f"{name}.min.js"
            if re.fullmatch(r"\d+\.\d+\.\d+", version) and main.is_file():
                builds.append(tuple(int(x) for x in version.split(".")))
        if builds:
            found[name] = ".".join(str(x) for x in max(builds))
    return found


VERSIONS = installed_versions()

#: Loads vega, vega-lite and vega-embed once per page (``window.__pmVega``: a promise of
#: ``{vega, vl, embed}``); the chart component (vega_chart.vue) does the same when it
#: finds no promise there.
_PRELOAD = """/* privmarket: start loading the chart libraries while the page waits for the server
   (written by privmarket.dashboard.vega.preload_script) */
(function () {
  var versions = %s;
  function load() {
    if (window.__pmVega || !window.requirejs) return;
    var cdn = window.solara && window.solara.cdn ? window.solara.cdn : "_solara/cdn";
    window.__pmVega = new Promise(function (resolve, reject) {
      window.requirejs.config({
        map: {
          "*": {
            vega: cdn + "/vega@" + versions.vega + "/build/vega.min.js",
            "vega-lite": cdn + "/vega-lite@" + versions["vega-lite"] + "/build/vega-lite.min.js",
            "vega-embed": cdn + "/vega-embed@" + versions["vega-embed"] + "/build/vega-embed.min.js"
          }
        }
      });
      window.requirejs(["vega", "vega-lite", "vega-embed"], function (vega, vl, embed) {
        resolve({ vega: vega, vl: vl, embed: embed });
      }, reject);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", load);
  else load();
})();
"""


def preload_script(versions: Mapping[str, str] | None = None) -> str:
    """JavaScript that loads the chart libraries as soon as the page's own scripts have run.

    Without it a chart asks for them only when it is mounted, after the
    server has sent the whole page, and the page then waits for three
    scripts to load and run; with it they load while the server builds the
    session's model and page. ``privmarket dashboard`` serves it as Solara's
    ``custom.js`` (:func:`write_preload`), which Solara puts in the page itself.
    """
    found = dict(versions or VERSIONS)
    return _PRELOAD % json.dumps({k: found[k] for k in DEFAULT_VERSIONS})


def write_preload(folder: Path, versions: Mapping[str, str] | None = None) -> Path:
    """Write :func:`preload_script` as ``custom.js`` into ``folder`` (an extra assets location)."""
    path = Path(folder) / "custom.js"
    path.write_text(preload_script(versions), encoding="utf-8")
    return path


def clean(value: Any) -> Any:
    """A JSON-safe value: NaN and infinities become ``None`` (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars
        return clean(value.item())
    return value


def records(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows as JSON-safe dictionaries."""
    return [{k: clean(v) for k, v in row.items()} for row in rows]


def to_json(value: Any) -> str:
    """``value`` as JSON text, with NaN and infinities as ``null`` (JSON has neither)."""
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return json.dumps(_cleaned(value), allow_nan=False, separators=(",", ":"))


def _cleaned(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _cleaned(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_cleaned(v) for v in value]
    return clean(value)


@solara.component_vue("vega_chart.vue")
def _VegaView(spec: str, rows: str, dark: bool, name: str, versions: dict):
    pass


@solara.component
def VegaChart(spec: str, rows: str, name: str):
    """One Vega-Lite chart; ``rows`` (JSON text) replace its data set on every change.

    ``spec`` and ``rows`` travel as JSON text (:func:`to_json`): Solara compares
    a component's arguments value by value, and thousands of row dictionaries
    made each redraw cost more than the chart itself. With ``rows=""`` the
    chart draws the rows that :func:`VegaRows` holds under its ``name`` (several
    charts that change together then cost one message). ``name`` is also shown
    as the element's ``data-chart`` attribute (for tests and styling). The
    chart follows the page's light or dark theme.
    """
    dark = bool(solara.lab.use_dark_effective())
    return _VegaView(spec=spec, rows=rows, dark=dark, name=name, versions=VERSIONS)


@solara.component_vue("vega_rows.vue")
def _VegaRows(rows: dict):
    pass


@solara.component
def VegaRows(rows: dict[str, str]):
    """The rows (JSON text) of several charts by name, sent to the page in one message.

    Each widget message costs the server a blocking hand-over to the web
    server's event loop; a step that changes six charts' rows sends one message
    instead of six (measured in docs/dashboard.md, "Responsiveness"). The
    charts are :func:`VegaChart` elements with ``rows=""`` and these names;
    names are shared by the whole page, so one page holds one set of them.
    """
    return _VegaRows(rows=rows)
