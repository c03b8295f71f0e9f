"""What the dashboard reads from the model, in one place.

The model's vocabulary (presence codes, event kinds, the names of the market
totals) is imported or named only here, so that a change in the core is a
change of one line in the dashboard.

Example
-------
>>> from privmarket.sim.model import MarketModel
>>> m = MarketModel(n_users=2_000, quarters=4, rng=1).run()
>>> frame = event_frame(m)
>>> list(frame.columns)
['quarter', 'label', 'kind', 'actor', 'target', 'sentence']
>>> int(m.quarter), market_totals(m)["demands"] >= 0
(4, True)
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import pandas as pd

from privmarket.sim.events import describe

# Presence of a vendor in a country (0 active, 1 left the country, 2 banned): the core's
# vocabulary names them; before it did, the vendor module held the codes.
try:
    from privmarket.sim.vocabulary import Presence

    ACTIVE, EXITED, BANNED = Presence.ACTIVE, Presence.EXITED, Presence.BANNED
except ImportError:  # pragma: no cover - the core before its vocabulary module
    from privmarket.agents.vendor import ACTIVE, BANNED, EXITED  # noqa: F401 (re-exported)

#: Cumulative market totals the page charts, as named in the model's per-quarter table.
TOTALS = ("demands", "bans", "backdowns", "deals", "country_exits", "vendor_failures")
#: The event log's columns the page shows, in order.
EVENT_COLUMNS = ["quarter", "label", "kind", "actor", "target", "sentence"]


def event_frame(model: Any) -> pd.DataFrame:
    """The model's event log with one plain sentence per event, oldest first.

    Columns: quarter, label (calendar quarter), kind, actor, target, sentence.
    The sentence is the model's own rendering (:func:`privmarket.sim.events.describe`,
    the words of ``model.event_frame()``); nothing here parses an event's
    details. Rows already seen for this model are kept (the log only grows), and
    only the new events are read from the log: the page redraws after every
    step, and building the model's whole typed frame each time cost more than
    the rest of the redraw.
    """
    log = model.events
    n = len(log)
    seen = _EVENTS.get(model)
    if seen is not None and len(seen) == n:
        return seen
    start = len(seen) if seen is not None and len(seen) < n else 0
    new = [log[i] for i in range(start, n)]
    part = pd.DataFrame(
        {
            "quarter": np.array([e.quarter for e in new], dtype=np.int64),
            "label": [e.label for e in new],
            "kind": [str(e.kind) for e in new],
            "actor": [e.actor for e in new],
            "target": [e.target for e in new],
            "sentence": [_capitalised(describe(e)) for e in new],
        },
        columns=EVENT_COLUMNS,
    )
    out = part if start == 0 else pd.concat([seen, part], ignore_index=True)
    _EVENTS[model] = out
    return out


#: The converted log per model (weakly held: a model that is gone takes its entry with it).
_EVENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _capitalised(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


def market_totals(model: Any) -> dict[str, float]:
    """The cumulative market totals (demands, bans, ...) after the model's last quarter."""
    found = model.datacollector.model_vars
    return {name: float(found[name][-1]) if found.get(name) else 0.0 for name in TOTALS}


def open_demands(model: Any, government: Any) -> int:
    """How many demands of ``government`` are open (waiting for an answer or enforcement)."""
    if hasattr(model, "open_demands"):  # the model keeps the demands
        return len(model.open_demands(government.country))
    return len(getattr(government, "open", ()))


def presence(vendor: Any) -> np.ndarray:
    """A vendor's presence code in every country."""
    return np.asarray(vendor.presence)
