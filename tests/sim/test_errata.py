"""The errata's measured effects against hand-worked cases and statistical properties."""

import numpy as np
import pandas as pd
import pytest
from _simulator_cases import behaviour

from phantom_lib.sim import errata
from phantom_lib.sim.config import EnvConfig

SMALL = EnvConfig(max_steps=50).replace(n_products=3, n_sessions=20)


def test_transposed_kernel_by_hand():
    # states a, b, end: a -> {b: .5, end: .5}, b -> {a: 1}
    matrix = np.array([[0, 0.5, 0.5], [1.0, 0, 0], [0, 0, 1.0]])
    walked = errata.transposed_kernel(matrix, end=2)
    # column a = (0, 1, 0) -> a goes to b; column b = (.5, 0, 0) -> b goes to a; end absorbing
    np.testing.assert_allclose(walked, [[0, 1, 0], [1, 0, 0], [0, 0, 1]])


def test_transposed_row_without_mass_goes_to_the_end():
    matrix = np.array([[0, 1.0, 0], [0, 0, 1.0], [0, 0, 1.0]])  # nobody enters a
    np.testing.assert_allclose(errata.transposed_kernel(matrix, end=2)[0], [0, 0, 1])


def test_cart_weight_effect_by_hand():
    table = pd.DataFrame({"event": ["checkout_start", "page_view"], "product": ["x", "y"]})
    effect = errata.cart_weight_effect(table)
    # ours: x 4, y 1 -> 80 / 20; original: 1 and 1 -> 50 / 50
    assert effect["max_change"] == pytest.approx(30.0, rel=1e-6)
    assert effect["total_change"] == pytest.approx(30.0, rel=1e-6)
    assert effect["reweighted_share"] == 0.5 and effect["n_products"] == 2


def test_walk_effects_compare_with_this_books_chain():
    frame = errata.walk_effects(behaviour(), errata.ErrataConfig(n_sessions=5000, seed=1))
    assert set(frame["variant"]) == {"this book", "transposed kernel (erratum 1)", "uniform start (erratum 3)"}
    ours = frame[frame["variant"] == "this book"]
    assert (ours["event_mix_tv"] == 0).all() and (ours["mean_length"] > 1).all()
    # the hand-built humans never start with checkout or cart events; a uniform start does
    uniform = frame[(frame["variant"] == "uniform start (erratum 3)") & (frame["class"] == "human")]
    assert float(uniform["event_mix_tv"].iloc[0]) > 0.05


def test_keeping_the_worst_sample_is_pessimistic_and_neutral_without_candidates():
    config = errata.ErrataConfig(n_steps=300, seed=3)
    robust = errata.resample_effect(SMALL.replace(n_candidates=5, eps_alpha=0.3), behaviour(), config)
    assert robust["difference"] + 3 * robust["difference_se"] < 0  # the min of 5 draws sits below a fresh draw
    single = errata.resample_effect(SMALL.replace(n_candidates=1, eps_alpha=0.0), behaviour(), config)
    assert abs(single["difference"]) < 4 * single["difference_se"]


def test_computed_f_grows_with_the_agent_share():
    frame = errata.mixture_f_effect(behaviour(), SMALL, [0.0, 1.0], errata.ErrataConfig(n_steps=200))
    low, high = frame["f_computed"]
    assert high - low > 3 * frame["f_computed_se"].max()
    assert frame["f_closed_form"].tolist() == [0.0, 1.0]


def test_config_is_validated():
    with pytest.raises(ValueError, match=r"ErrataConfig.n_steps = 0: expected an integer >= 2"):
        errata.ErrataConfig(n_steps=0)
