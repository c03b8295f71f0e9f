"""Write the expected outputs of every shipped scenario over seeds 0-2.

The restructure of the core had to leave every output bit-identical; these files
were first written by the code before it, and every restructuring commit matched
them. Since then they are rewritten, deliberately, when behaviour changes on
purpose (the one-world model; each recalibration of the shipped world; a change
of a decision rule), each time named in the commit. They are what
``tests/test_golden.py`` compares against. Rewrite them only for a deliberate
change of behaviour, and say which in the commit.

    python tests/golden/make_golden.py            # writes tests/golden/*.json.gz
"""

from __future__ import annotations

import gzip
import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).parent
SEEDS = (0, 1, 2)


def _plain(x):
    """JSON-ready value; floats keep every bit (repr round-trips), NaN as a string."""
    if hasattr(x, "isoformat"):  # a quarter's date
        return x.isoformat()
    if hasattr(x, "item"):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)
    return x


def snapshot(scenario: str, seed: int) -> dict:
    from privmarket.sim.model import MarketModel

    m = MarketModel(scenario=scenario, rng=seed).run()
    table = m.table()
    events = m.event_frame()
    return {
        "scenario": scenario,
        "seed": seed,
        "table": {c: [_plain(v) for v in table[c].tolist()] for c in table.columns},
        "events": [
            {k: _plain(v) for k, v in r.items()}
            for r in events.astype(object).where(events.notna(), None).to_dict("records")
        ],
        "summary": {k: _plain(v) for k, v in m.summary().items()},
        "installed": m.results.installed[: m.quarter + 1].tolist(),
        "sales": m.results.sales[: m.quarter + 1].tolist(),
    }


def main() -> int:
    from privmarket.sim.scenarios import list_scenarios

    for name in list_scenarios():
        for seed in SEEDS:
            path = HERE / f"{name}-seed{seed}.json.gz"
            data = json.dumps(snapshot(name, seed), sort_keys=True).encode()
            path.write_bytes(gzip.compress(data, mtime=0))
            print(f"wrote {path.name} ({len(data) // 1024} kB raw)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
