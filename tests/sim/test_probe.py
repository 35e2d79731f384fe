"""The market at fixed prices: revenue blind to the share under the share proxy, mass on the analytic line."""

from __future__ import annotations

import numpy as np
import pytest
from _simulator_cases import behaviour

from phantom_lib.behaviour import class_masses, mixture_mass
from phantom_lib.sim import MarketConfig
from phantom_lib.sim.probe import revenue_by_share


@pytest.fixture(scope="module")
def beh():
    return behaviour()


def test_share_proxy_makes_revenue_blind_to_the_share_above_every_valuation(beh):
    # every price far above every valuation: demand is zero, products are drawn uniformly, and the
    # normalised proxy sums to 100 whoever shops, so revenue is exactly 100 x the (common) price
    config = MarketConfig(n_products=4, n_sessions=10, human_mu=50.0, agent_mu=45.0)
    table = revenue_by_share(beh, config, np.full(4, 140.0), [0.0, 0.5, 1.0], draws=20, seed=1)
    assert table["zero_demand"].tolist() == [1.0, 1.0, 1.0]
    np.testing.assert_allclose(table["revenue"], 100 * 140.0, rtol=1e-9)
    assert table["revenue_se"].max() < 1e-6


def test_mass_proxy_puts_the_mass_on_the_absorbing_chain_line(beh):
    config = MarketConfig(n_products=3, n_sessions=20, proxy="mass", max_len=12)
    masses = class_masses(beh, max_len=12)["mass"]
    shares = [0.0, 0.5, 1.0]
    table = revenue_by_share(beh, config, np.full(3, 140.0), shares, draws=400, seed=2)
    expected = mixture_mass(shares, masses["human"], masses["agent"])
    z = (table["mass"] - expected) / table["mass_se"]
    assert np.all(np.abs(z) < 4), z.tolist()
    # at one common price the revenue is that price times the mass, draw by draw
    np.testing.assert_allclose(table["revenue"], 140.0 * table["mass"], rtol=1e-9)


def test_the_closed_form_adversary_keeps_the_largest_share_when_demand_is_zero(beh):
    from phantom_lib.sim import EnvConfig
    from phantom_lib.sim.probe import adversary_choices

    config = EnvConfig(alpha0=0.3, eps_alpha=0.2, n_candidates=5, lambda_coi=0.15, adversary="closed_form").replace(
        n_products=3, n_sessions=10, proxy="mass")
    top = config.action_levels - 1  # prices climb to the cap and stay above every valuation
    steps = adversary_choices(beh, config, top, steps=60, seed=0)
    saturated = steps[steps["zero_demand"]]
    assert len(saturated) > 30 and saturated["largest"].all()
    assert saturated["alpha_adv"].eq(0.5).all()
    # the sampled adversary keeps whichever sample is worst: not always the largest share
    sampled = adversary_choices(beh, config.replace(adversary="sampled"), top, steps=60, seed=0)
    assert not sampled["largest"].all()
