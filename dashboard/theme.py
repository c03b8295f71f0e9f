"""The page's own styles, readable in Vuetify's light and dark themes.

Every colour of the project's HTML views is a CSS variable set twice: once for
``.theme--light`` and once for ``.theme--dark`` (the classes Vuetify puts on the
application and on cards). Text is at least 4.5:1 against its background in
both themes; vendor colours (the chart palette) mark lines, swatches and badge
borders, never small text on their own.
"""

from __future__ import annotations

CSS = """
.v-application.theme--light, .theme--light .pm-scope {
  --pm-fg: #1d1d1d; --pm-muted: #4d4d4d; --pm-bg: #ffffff; --pm-bg2: #f4f4f4;
  --pm-border: #d0d0d0; --pm-ban: #b3261e; --pm-ban-bg: #fbeaea; --pm-exit-bg: #efefef;
  --pm-link: #0b5cad; --pm-pending-bg: #fff4d6; --pm-pending-fg: #4a3500;
}
.v-application.theme--dark, .theme--dark .pm-scope {
  --pm-fg: #ececec; --pm-muted: #bdbdbd; --pm-bg: #1e1e1e; --pm-bg2: #2a2a2a;
  --pm-border: #4a4a4a; --pm-ban: #ff8a80; --pm-ban-bg: #3a1f1f; --pm-exit-bg: #2e2e2e;
  --pm-link: #8ab4f8; --pm-pending-bg: #3d3215; --pm-pending-fg: #ffe7a3;
}
.pm-box { background: var(--pm-bg) !important; color: var(--pm-fg) !important;
  border: 1px solid var(--pm-border) !important; border-radius: 6px !important;
  padding: 8px; min-width: 0; contain: content; }
.pm-muted, .pm-legend, .pm-tile-sub, .pm-hint { color: var(--pm-muted) !important; }
.pm-hint { font-size: 12px; line-height: 16px; }
.pm-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr));
  gap: 12px; align-items: start; width: 100%; }
.pm-wide { grid-column: 1 / -1; }
.pm-status { font-size: 15px; margin-bottom: 4px; color: var(--pm-fg); }
.pm-table-wrap { overflow-x: auto; max-width: 100%; }
.pm-vendors { border-collapse: collapse; font-size: 12.5px; width: 100%; color: var(--pm-fg); }
.pm-vendors th, .pm-vendors td { padding: 2px 6px; text-align: right;
  border-bottom: 1px solid var(--pm-border); white-space: nowrap; }
.pm-vendors th { color: var(--pm-muted); font-weight: 600; }
.pm-vendors th:first-child, .pm-vendors td:first-child { text-align: left; }
.pm-vendors .pm-neg { color: var(--pm-ban); font-weight: 600; }
.pm-swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; }
.pm-gone td { color: var(--pm-muted); }
.pm-left { font-size: 11px; white-space: normal; }
.pm-world { display: grid; grid-template-columns: repeat(auto-fill, minmax(160px, 1fr)); gap: 6px; }
.pm-tile { border: 1px solid var(--pm-border); border-left: 6px solid var(--pm-border);
  border-radius: 6px; padding: 5px 6px; font-size: 12.5px; background: var(--pm-bg2);
  color: var(--pm-fg); }
.pm-tile-head { display: flex; justify-content: space-between; gap: 4px; align-items: center; }
.pm-tile-sub { font-size: 11.5px; margin: 1px 0 3px; }
.pm-heat { border-radius: 4px; padding: 0 5px; font-size: 11.5px; font-weight: 600;
  white-space: nowrap; display: inline-block; margin: 1px; }
.pm-bar { display: flex; height: 8px; border-radius: 3px; overflow: hidden; background: var(--pm-border); }
.pm-seg { display: block; height: 100%; }
.pm-badges { display: flex; flex-wrap: wrap; gap: 3px; margin-top: 4px; }
.pm-badge { border-radius: 9px; padding: 0 6px; font-size: 11.5px; line-height: 18px;
  border: 2px solid var(--c); white-space: nowrap; color: var(--pm-fg); background: var(--pm-bg); }
.pm-present { border-style: solid; }
.pm-partial { border-style: dashed; font-weight: 600; }
.pm-access { border-style: double; border-width: 3px; font-weight: 700; }
.pm-banned { color: var(--pm-ban); border-color: var(--pm-ban); text-decoration: line-through; }
.pm-exited { color: var(--pm-muted); border-style: dotted; }
.pm-failed { color: var(--pm-muted); border-color: var(--pm-border); background: var(--pm-exit-bg);
  text-decoration: line-through; }
.pm-legend { font-size: 11.5px; margin-top: 6px; line-height: 22px; }
.pm-feed { max-height: 320px; overflow-y: auto; font-size: 13px; color: var(--pm-fg); }
.pm-feed ol { list-style: none; padding-left: 0; margin: 0; }
.pm-feed li { padding: 2px 0 2px 8px; border-left: 3px solid var(--pm-border); margin-bottom: 2px; }
.pm-feed li .pm-q { color: var(--pm-muted); font-variant-numeric: tabular-nums; margin-right: 4px; }
.pm-ev-ban { border-left-color: var(--pm-ban) !important; background: var(--pm-ban-bg); }
.pm-ev-access { border-left-color: #E69F00 !important; }
.pm-ev-backdown { border-left-color: #009E73 !important; }
.pm-ev-exit, .pm-ev-failure { border-left-color: var(--pm-fg) !important; background: var(--pm-exit-bg); }
.pm-pending-bar { background: var(--pm-pending-bg) !important; color: var(--pm-pending-fg) !important;
  border-radius: 6px; padding: 6px 10px; display: flex; align-items: center; gap: 10px;
  flex-wrap: wrap; }
.pm-field-error { color: var(--pm-ban); font-size: 12px; line-height: 16px; margin: -4px 0 6px; }
.pm-figure { padding: 6px 8px; }
.pm-figure .pm-vega { min-height: 200px; }
.pm-events-table { max-height: 420px; overflow: auto; }
.pm-events-table table { border-collapse: collapse; width: 100%; font-size: 12.5px; color: var(--pm-fg); }
.pm-events-table th { position: sticky; top: 0; background: var(--pm-bg2); text-align: left;
  color: var(--pm-muted); }
.pm-events-table td, .pm-events-table th { padding: 2px 6px; border-bottom: 1px solid var(--pm-border);
  vertical-align: top; }
.pm-explorer .pm-runs-list { max-height: 420px; overflow-y: auto; }
.pm-run-text { font-size: 12.5px; color: var(--pm-fg); }
.pm-summary div { margin-bottom: 2px; }
.pm-page-error { margin: 8px 0; }
/* Tabs on the app bar: solid colours (Vuetify fades the inactive one to 60% white). */
.v-app-bar .v-tab { color: #dce7f5 !important; }
.v-app-bar .v-tab--active { color: #ffffff !important; }
"""
