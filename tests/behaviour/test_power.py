"""Power analysis by simulation: effect mixing, null size, interpolation of the MDE."""

import numpy as np
import pandas as pd
import pytest

from phantom_lib.behaviour import power
from phantom_lib.behaviour.kernels import Kernel

LABELS = ("a", "b", "c", "session_end")


def kernel(matrix, pi0=(0.4, 0.3, 0.3, 0.0)):
    return Kernel(LABELS, np.array(matrix, dtype=float), np.array(pi0, dtype=float))


HUMAN = kernel([[0.05, 0.75, 0.1, 0.1], [0.1, 0.05, 0.75, 0.1], [0.75, 0.1, 0.05, 0.1], [0, 0, 0, 1]])
AGENT = kernel([[0.05, 0.1, 0.75, 0.1], [0.75, 0.05, 0.1, 0.1], [0.1, 0.75, 0.05, 0.1], [0, 0, 0, 1]])


def test_mix_interpolates_the_kernels():
    m0, _ = power.mix(HUMAN, AGENT, 0.0)
    m1, _ = power.mix(HUMAN, AGENT, 1.0)
    mh, _ = power.mix(HUMAN, AGENT, 0.5)
    np.testing.assert_array_equal(m0, HUMAN.matrix)
    np.testing.assert_array_equal(m1, AGENT.matrix)
    np.testing.assert_allclose(mh, (HUMAN.matrix + AGENT.matrix) / 2)
    np.testing.assert_allclose(mh.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="share one state order"):
        power.mix(HUMAN, HUMAN.reorder(("b", "a", "c", "session_end")), 0.5)
    with pytest.raises(ValueError, match=r"effect must lie in \[0, 1\]"):
        power.mix(HUMAN, AGENT, 1.5)


def test_sampled_cohorts_hold_only_scorable_trajectories():
    paths = power.sample_scorable(HUMAN.matrix, HUMAN.pi0, 500, np.random.default_rng(0), 40, HUMAN.end)
    assert paths.shape == (500, 40)
    assert ((paths >= 0).sum(axis=1) >= 2).all()
    ends_at_once = kernel([[0, 0, 0, 1.0], [0, 0, 0, 1.0], [0, 0, 0, 1.0], [0, 0, 0, 1.0]])
    with pytest.raises(ValueError, match="ends sessions after one event"):
        power.sample_scorable(ends_at_once.matrix, ends_at_once.pi0, 10, np.random.default_rng(0), 40, 3)


def test_size_power_and_the_in_sample_bias():
    config = power.PowerConfig(n_rep=300, effects=(0.0, 1.0))
    curve = power.power_curve(HUMAN, AGENT, config)
    null, full = curve.iloc[0], curve.iloc[1]
    # the size-calibrated test rejects a true null at most alpha (+3 sd of the difference of two
    # binomial shares: the threshold comes from an independent null simulation)
    assert null["power_calibrated"] <= 0.05 + 3 * np.sqrt(2 * 0.05 * 0.95 / 300)
    # reversed cycles are told apart in (almost) every cohort of 13 + 16
    assert full["power"] >= 0.95 and full["power_calibrated"] >= 0.95
    # in-sample centroids let each trajectory vote for its own class: false positives soar
    biased = power.power_curve(HUMAN, AGENT, power.PowerConfig(n_rep=300, effects=(0.0,), loo=False))
    assert biased["power"].iloc[0] > null["power"] + 0.1  # about 3 sd of the difference


def test_power_by_size_shape_and_growth():
    table = power.power_by_size(HUMAN, AGENT, [4, 24], [0.3], power.PowerConfig(n_rep=200))
    assert table.columns.tolist()[:3] == ["n_per_class", "effect", "power"]
    assert table["n_per_class"].tolist() == [4, 24]
    assert table["power"].iloc[1] > table["power"].iloc[0] + 0.2


def test_minimum_detectable_effect_interpolates_the_first_crossing():
    curve = pd.DataFrame({"effect": [1.0, 0.0, 0.5], "power": [1.0, 0.05, 0.6]})
    assert power.minimum_detectable_effect(curve, 0.8) == pytest.approx(0.5 + 0.2 / 0.4 * 0.5)
    assert power.minimum_detectable_effect(curve, 0.01) == 0.0
    assert power.minimum_detectable_effect(curve.assign(power=[0.7, 0.05, 0.3]), 0.8) is None


def test_calibrated_threshold_by_hand():
    null = [0.01, 0.02, 0.02, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert power.calibrated_threshold(null, 0.1) == 0.01  # P(p <= 0.02) = 0.3 > 0.1
    assert power.calibrated_threshold(null, 0.3) == 0.02
    assert power.calibrated_threshold(null, 0.05) == -np.inf


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_human": 0}, "n_human"),
        ({"alpha": 1.5}, "alpha"),
        ({"effects": (0.2, 1.2)}, "effects"),
        ({"max_len": 1}, "max_len"),
        ({"n_rep": 2.5}, "n_rep"),
    ],
)
def test_power_config_is_validated(kwargs, message):
    with pytest.raises(ValueError, match=f"PowerConfig.{message}"):
        power.PowerConfig(**kwargs)
