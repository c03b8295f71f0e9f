"""privmarket: an agent-based market of phone vendors, their users and the governments
that demand access to private communications (on Mesa 3).

The package holds four subpackages, kept as top-level folders in the repository:

- :mod:`privmarket.agents`: vendors, governments and their decision rules, and the
  users seen as Mesa agents;
- :mod:`privmarket.sim`: the Mesa model, its parameters, scenarios and results;
- :mod:`privmarket.experiments`: one run to files, sweeps, calibration, analysis and
  the command line;
- :mod:`privmarket.dashboard`: the Solara app.

>>> from privmarket import MarketModel
>>> m = MarketModel("pakistan-2015", rng=1).run()
>>> m.quarter
6
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("privmarket")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["MarketModel", "Params", "__version__"]


def __getattr__(name: str):
    # The model is imported on first use, so `import privmarket` stays cheap.
    if name == "MarketModel":
        from privmarket.sim.model import MarketModel

        return MarketModel
    if name == "Params":
        from privmarket.sim.params import Params

        return Params
    raise AttributeError(f"module 'privmarket' has no attribute {name!r}")
