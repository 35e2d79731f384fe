"""The filtering defence's error rates (``sales.toml``'s ``presets.defence.filter``) are what chapter 07's
detector measures on the stand-in at the design's market: recomputed here, and the perfect detector
gives (1, 0)."""

import tomllib

import pytest

from phantom_lib.behaviour.model import load_behaviour
from phantom_lib.detection.defence import RATE_CONFIG, DefenceConfig, detector_rates
from phantom_lib.sim.market import MarketConfig
from phantom_lib.study.design.files import BUILTIN_DIR


def test_sales_design_filter_rates_are_the_detectors_measured_rates():
    data = tomllib.loads((BUILTIN_DIR / "sales.toml").read_text())
    preset, market = data["presets"]["defence"]["filter"], data["market"]
    config = MarketConfig(n_products=market["n_products"], proxy=market["proxy"], visits=market["visits"])
    tpr, fpr = detector_rates(load_behaviour("standin"), config)
    assert (round(tpr, 2), round(fpr, 2)) == (preset["filter_tpr"], preset["filter_fpr"])


def test_perfect_detector_flags_every_agent_and_no_person():
    config = DefenceConfig(alphas=(0.5,), n_steps=3, detector="perfect")
    assert detector_rates(load_behaviour("standin"), MarketConfig(n_products=3, n_sessions=20), config) == (1.0, 0.0)
    with pytest.raises(ValueError, match=r"DefenceConfig.alphas = \(0.0, 0.5\): expected one share"):
        detector_rates(load_behaviour("standin"), MarketConfig(), DefenceConfig(alphas=(0.0, 0.5)))
    assert RATE_CONFIG.alphas == (0.5,)
