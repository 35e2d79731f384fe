"""The synthetic stand-in: reproducible bytes, the data card's counts, the generating kernels."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phantom_lib import cli, data
from phantom_lib.behaviour import kernels
from phantom_lib.perf import timing
from phantom_lib.standin import model as standin_model
from phantom_lib.standin import rows as standin

# The published summary of whoclicked.csv (shared/DATA.md), typed here independently of the library.
CARD = {
    "rows": 3838,
    "columns": 42,
    "ts_min": "2025-12-05T09:43:31Z",
    "ts_max": "2026-02-28T19:32:06Z",
    "record_type/interaction": 507,
    "record_type/price_log": 3331,
    "agent/interaction": 197,
    "agent/price_log": 2879,
    "human/interaction": 310,
    "human/price_log": 452,
    "actor/agent": 3076,
    "actor/human": 762,
    "sessions/agent": 7,
    "sessions/human": 25,
    "experiments/human": 13,
    "experiments/agent": 16,
    "store/hotel": 3592,
    "store/airline": 196,
    "store/shop": 50,
    "event/page_view": 236,
    "event/learn_more_about_item": 88,
    "event/view_item_page": 85,
    "event/add_item_to_cart": 46,
    "event/hover_over_title": 23,
    "event/checkout_start": 19,
    "event/hover_over_paragraph": 6,
    "event/remove_item": 4,
}


@pytest.fixture(scope="module")
def shipped() -> data.WhoClicked:
    return data.load("standin")


def test_cli_regenerates_the_shipped_file_byte_for_byte(tmp_path):
    target = tmp_path / "standin.csv.gz"
    assert cli.main(["data", "standin", "--seed", "0", "-o", str(target)]) == 0
    fresh, shipped_bytes = target.read_bytes(), data.STANDIN_PATH.read_bytes()
    assert gzip.decompress(fresh) == gzip.decompress(shipped_bytes)  # the CSV itself
    assert fresh == shipped_bytes  # and the compressed file (gzip mtime 0, no name)


def test_the_shipped_standin_matches_every_count_of_the_card(shipped):
    assert data.card_counts(shipped.frame) == CARD
    assert shipped.provenance.synthetic and "SYNTHETIC STAND-IN DATA" in shipped.provenance.banner()
    assert tuple(shipped.frame.columns) == data.COLUMNS
    assert shipped.report.missing_optional == () and shipped.report.unknown_events == {}


def test_another_seed_gives_other_rows_with_the_same_counts(shipped):
    other = data.validate(standin.generate(standin_model.StandinConfig(seed=7)))
    assert data.card_counts(other) == CARD
    assert not other["ts"].sort_values().reset_index(drop=True).equals(
        shipped.frame["ts"].sort_values().reset_index(drop=True))


def test_scaled_standin_multiplies_the_counts():
    frame = data.validate(standin.generate(standin_model.StandinConfig(seed=1, scale=3)))
    counts = data.card_counts(frame)
    assert {k: v for k, v in counts.items() if k not in ("columns", "ts_min", "ts_max")} == {
        k: 3 * v for k, v in CARD.items() if k not in ("columns", "ts_min", "ts_max")}
    assert (counts["ts_min"], counts["ts_max"]) == (CARD["ts_min"], CARD["ts_max"])


def test_admin_views_are_dropped_and_trajectories_cover_every_experiment(shipped):
    frame = shipped.frame
    assert shipped.report.admin_events == 4
    table = data.trajectories(frame, "experiment")
    assert len(table) == 507 - 4
    assert table.groupby("actor")["trajectory"].nunique().to_dict() == {"agent": 16, "human": 13}
    assert data.trajectories(frame, "session").groupby("actor")["trajectory"].nunique().to_dict() == {
        "agent": 7, "human": 25}
    assert not table["page"].str.contains("/admin/").any()


def test_price_logs_are_positive_and_quote_catalogue_products(shipped):
    prices = data.price_logs(shipped.frame)
    assert len(prices) == 3331 and (prices["price"] > 0).all()
    shown = set(shipped.frame.loc[shipped.frame["record_type"] == "interaction", "productId"].dropna())
    assert set(prices["product"]) >= shown - {""}
    # the collection-time rule only ever quotes 0.9, 1.0 or 1.2 times a product's base price
    for product, group in prices.groupby("product"):
        quoted = np.unique(group["price"])
        bases = np.concatenate([quoted / 0.9, quoted, quoted / 1.2])
        fits = [all(np.isclose(q, [0.9 * b, b, 1.2 * b], atol=0.011).any() for q in quoted) for b in bases]
        assert any(fits), (product, quoted)


def test_behaviour_differs_as_the_kernels_say(shipped):
    table = data.trajectories(shipped.frame)
    gaps = data.inter_event_seconds(table).groupby(table["actor"]).median()
    assert gaps["agent"] < gaps["human"] / 2  # agents are fast
    share = table.groupby("actor")["event"].value_counts(normalize=True).unstack(fill_value=0)
    assert share.loc["agent", "view_item_page"] > share.loc["human", "view_item_page"]  # many item views
    dwell = share[["hover_over_title", "hover_over_paragraph"]].sum(axis=1)
    assert dwell["human"] > 5 * dwell["agent"]  # humans hover and read


def test_estimated_kernels_recover_the_generating_kernels():
    """At 30x the card's size the MLE event kernel of each class lies within 0.06 of the
    kernel it was sampled from on every well-observed row (>= 300 transitions, so one
    standard error is <= 0.03). The count repair is the only departure from a Markov sample."""
    config = standin_model.StandinConfig(seed=3, scale=30)
    frame = data.validate(standin.generate(config))
    estimated = kernels.estimate_by_class(data.trajectories(frame))
    for actor, truth in standin_model.generating_kernels(config).items():
        kernel = estimated[actor]
        order = [kernel.index(e) for e in standin_model.EVENTS if e in kernel.labels]
        counts = kernel.counts[np.ix_(order, order)]
        seen = [e for e in standin_model.EVENTS if e in kernel.labels]
        rows = counts.sum(axis=1) >= 300
        assert rows.sum() >= 4
        observed = counts[rows] / counts[rows].sum(axis=1, keepdims=True)
        index = [standin_model.EVENTS.index(e) for e in seen]
        expected = truth.matrix[np.ix_(index, index)]
        expected = expected[rows] / expected[rows].sum(axis=1, keepdims=True)
        assert np.abs(observed - expected).max() < 0.06, actor


def test_event_split_fits_the_card_margins():
    split = standin_model.event_split()
    total = split["human"] + split["agent"]
    assert total.tolist() == [236 - 4, 85, 88, 23, 6, 46, 4, 19]
    assert split["agent"].sum() == 197 and split["human"].sum() == 310 - 4
    assert split["agent"][standin.HP] == 0  # the agent kernel never hovers paragraphs


def test_tilted_kernels_expect_exactly_the_split():
    split = standin_model.event_split()
    for actor, kernel in standin_model.generating_kernels().items():
        mix = standin_model._expected_mix(kernel, standin_model._mean_length(actor, standin_model.StandinConfig()))
        np.testing.assert_allclose(mix * split[actor].sum(), split[actor], atol=1e-6)
        assert np.array_equal(kernel.matrix == 0, standin_model.KERNELS[actor].matrix == 0)


def test_repair_makes_the_fewest_substitutions_at_plausible_places():
    rng = np.random.default_rng(0)
    codes = np.array([standin.PV, standin.VI, standin.LM, standin.VI, standin.VI])
    starts = np.array([True, False, False, True, False])
    target = np.bincount(codes, minlength=8)
    target[standin.VI] -= 1
    target[standin.ADD] += 1
    repaired = standin._repair(codes, starts, target, standin_model.AGENT, rng)
    assert np.array_equal(np.bincount(repaired, minlength=8), target)
    assert (repaired != codes).sum() == 1
    # the replaced view is the one the agent kernel finds most replaceable by a cart add
    assert repaired.tolist() == [standin.PV, standin.VI, standin.LM, standin.VI, standin.ADD]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 50.0), min_size=1, max_size=8), st.integers(0, 200))
def test_apportion_sums_exactly_and_stays_within_one_of_proportional(weights, total):
    weights = np.array(weights)
    if weights.sum() == 0:
        weights = weights + 1.0
    counts = standin_model.apportion(weights, total)
    assert counts.sum() == total and (counts >= 0).all()
    assert np.all(np.abs(counts - weights * total / weights.sum()) < 1.0 + 1e-9)


def test_configuration_is_validated():
    with pytest.raises(ValueError, match=r"StandinConfig.scale = 0: expected an integer >= 1"):
        standin_model.StandinConfig(scale=0)
    with pytest.raises(ValueError, match=r"StandinConfig.seed = -1: expected an integer >= 0"):
        standin_model.StandinConfig(seed=-1)
    with pytest.raises(ValueError, match="admin_views"):
        standin_model.StandinConfig(admin_views=99)
    bad = np.array(standin_model.AGENT.matrix)
    bad[0, 0] += 0.5
    with pytest.raises(kernels.KernelError, match="rows must sum to 1"):
        standin_model.BehaviourKernel(**{**standin_model.AGENT.__dict__, "matrix": bad})


def test_check_command_compares_the_standin_with_the_card(capsys):
    assert cli.main(["data", "check", "standin"]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC STAND-IN DATA" in out and "27 of 27 card quantities match" in out


def test_benchmark_reports_rows_and_rates_per_scale():
    table = timing.load_benchmark(scales=(1, 2), repeats=1)
    assert table["rows"].tolist() == [3838, 7676]
    assert (table["load_s"] > 0).all() and np.isnan(table["marginal_rows_per_s"].iloc[0])
    assert table["rows_per_s"].iloc[1] == pytest.approx(7676 / table["load_s"].iloc[1])
