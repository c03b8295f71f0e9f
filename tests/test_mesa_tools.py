"""The model driven by Mesa's own tools, as its users drive it: SolaraViz and batch_run.

Each test checks the numbers the tool shows against direct runs of the model.
"""

from __future__ import annotations

import ipyvuetify as v
import mesa
import numpy as np
import pandas as pd
import pytest
import solara
from mesa.visualization import SolaraViz

from privmarket.sim.model import MarketModel
from privmarket.sim.results import GOVERNMENT_FIGURES, MARKET_FIGURES, VENDOR_FIGURES

SMALL = {"n_users": 2_000, "quarters": 6}


# ---------------------------------------------------------------- SolaraViz
def test_solaraviz_step_slider_reset_step_gives_the_direct_numbers() -> None:
    model = solara.reactive(MarketModel(rng=5, **SMALL))
    params = {
        **SMALL,
        "rng": 5,
        "privacy_salience": {
            "type": "SliderFloat",
            "value": 1.0,
            "min": 0.0,
            "max": 3.0,
            "step": 0.5,
            "label": "Privacy salience",
        },
    }
    page = SolaraViz(model, components=[], model_params=params, name="privmarket")
    _, rc = solara.render(solara.AppLayout(children=[page]), handle_error=False)

    def click(label: str) -> None:
        rc.find(v.Btn, children=[label]).widget.click()

    click("Step")
    assert model.value.quarter == 1
    (slider,) = [w for w in rc.find(v.Slider).widgets if (w.label or "").startswith("Privacy")]
    slider.v_model = 2.5
    click("Reset")
    rebuilt = model.value
    assert rebuilt.quarter == 0
    assert rebuilt.params.privacy_salience == 2.5  # the slider took effect
    click("Step")
    click("Step")
    direct = MarketModel(rng=5, privacy_salience=2.5, **SMALL).run(2)
    pd.testing.assert_frame_equal(rebuilt.table(), direct.table())


def test_mesa_scenario_objects_are_accepted() -> None:
    from mesa.experimental.scenarios import Scenario

    m = MarketModel(scenario=Scenario(rng=3, hazard=0.2), **SMALL)
    assert m.params.hazard == 0.2
    same = MarketModel(rng=3, hazard=0.2, **SMALL)
    assert m.run().summary() == same.run().summary()


# ---------------------------------------------------------------- batch_run
@pytest.mark.parametrize("processes", [1, 2])
def test_batch_run_gives_the_direct_numbers_with_distinct_columns(processes: int) -> None:
    grid = {**SMALL, "countries.*.appetite": [0.2, 0.9]}
    rows = mesa.batch_run(
        MarketModel,
        parameters=grid,
        rng=[0, 1],
        number_processes=processes,
        data_collection_period=-1,
        display_progress=False,
    )
    df = pd.DataFrame(rows)
    assert len(df.drop_duplicates("RunId")) == 4
    # Every reporter has its own name: a model total is never shadowed by an agent's.
    assert not set(MARKET_FIGURES) & (set(VENDOR_FIGURES) | set(GOVERNMENT_FIGURES))
    for (appetite, seed), run in df.groupby(["countries.*.appetite", "rng"]):
        direct = MarketModel(rng=int(seed), **SMALL, **{"countries.*.appetite": appetite}).run()
        s = direct.summary()
        for col in ("bans", "backdowns", "deals", "country_exits", "demands"):
            assert (run[col] == s[col]).all(), col
        assert np.allclose(run["hhi"], s["hhi"])
        vendors = run.dropna(subset=["installed_share"])
        for _, row in vendors.iterrows():
            assert row["installed_share"] == s[f"{row['name']}.installed_share"]
        govs = run.dropna(subset=["bans_imposed"])
        assert govs["bans_imposed"].sum() == s["bans"]


def test_numpy_integer_seeds_and_a_positional_scenario() -> None:
    a = MarketModel("pakistan-2015", rng=np.int64(4)).run()
    b = MarketModel(scenario="pakistan-2015", rng=4).run()
    assert a.summary() == b.summary()
    with pytest.raises(Exception, match="scenario given twice"):
        MarketModel("pakistan-2015", scenario="uae-2010")
