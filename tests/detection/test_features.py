"""Session features against hand-computed values and a slow per-unit reference."""

import numpy as np
import pandas as pd
import pytest

from phantom_lib import data
from phantom_lib.data import events
from phantom_lib.detection import features

SAFARI = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
          "Safari/605.1.15")
HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36"
)


def make_table(rows, unit="session"):
    """A trajectory table from (session, experiment, actor, seconds, start, event, page, product, ua) rows."""
    frame = pd.DataFrame(
        rows, columns=["session", "experiment", "actor", "seconds", "start", "event", "page", "product", "user_agent"]
    )
    frame["ts"] = pd.to_datetime(frame["start"], utc=True) + pd.to_timedelta(frame["seconds"], unit="s")
    frame["trajectory"] = frame[unit]
    frame["is_agent"] = (frame["actor"] == "agent").astype(int)
    frame = frame.sort_values(["trajectory", "ts"], kind="stable").reset_index(drop=True)
    frame["step"] = frame.groupby("trajectory").cumcount()
    frame["category"] = frame["event"].map(events.category_of)
    frame["store"] = "shop"
    return frame[list(data.TRAJECTORY_COLUMNS)]


A_START, B_START = "2026-01-01 09:59:00", "2026-01-02 23:58:00"
TWO_SESSIONS = [
    # session A: a human on Safari, five events over 100 s
    ("A", "e1", "human", 0, A_START, "page_view", "/shop/products", "", SAFARI),
    ("A", "e1", "human", 10, A_START, "view_item_page", "/shop/products/p1", "p1", SAFARI),
    ("A", "e1", "human", 30, A_START, "hover_over_title", "/shop/products/p1", "p1", SAFARI),
    ("A", "e1", "human", 60, A_START, "add_item_to_cart", "/shop/products/p1", "p1", SAFARI),
    ("A", "e1", "human", 100, A_START, "checkout_start", "/shop/checkout", "", SAFARI),
    # session B: a headless agent, four quick events, a pause, two more
    ("B", "e2", "agent", 0, B_START, "view_item_page", "/shop/products/p1", "p1", HEADLESS),
    ("B", "e2", "agent", 2, B_START, "learn_more_about_item", "/shop/products/p1", "p1", HEADLESS),
    ("B", "e2", "agent", 4, B_START, "view_item_page", "/shop/products/p2", "p2", HEADLESS),
    ("B", "e2", "agent", 6, B_START, "filter_for_price", "/shop/search", "", HEADLESS),
    ("B", "e2", "agent", 400, B_START, "search", "/shop/search", "", HEADLESS),
    ("B", "e2", "agent", 401, B_START, "view_item_page", "/shop/products/p2", "p2", HEADLESS),
]
PRICES = pd.DataFrame({"session": ["A", "A"], "experiment": ["e1", "e1"], "price": [10.0, 20.0]})


def test_two_sessions_equal_hand_computed_values():
    table = make_table(TWO_SESSIONS)
    got = features.session_features(table, PRICES, unit="session")
    assert list(got.index) == ["A", "B"] and list(got.columns) == ["is_agent", "group", *features.FEATURES]
    a = got.loc["A"]
    expected_a = {
        "is_agent": 0,
        "duration_s": 100.0,
        "gap_mean_s": 25.0,
        "gap_std_s": np.sqrt(125.0),
        "gap_min_s": 10.0,
        "events_per_minute": 3.0,
        "max_5min_per_minute": 1.0,
        "start_hour": 9,
        "n_events": 5,
        "page_views": 1,
        "item_views": 1,
        "cart_adds": 1,
        "purchases": 1,
        "hovers": 1,
        "filters": 0,
        "cart_to_view": 1.0,
        "conversion": 0.2,
        "hover_intensity": 0.2,
        "unique_pages": 3,
        "unique_products": 1,
        "max_product_views": 3,
        "price_mean": 15.0,
        "price_min": 10.0,
        "price_max": 20.0,
        "price_std": 5.0,
        "price_range": 10.0,
        "headless": 0,
        "automation": 0,
    }
    for name, value in expected_a.items():
        assert a[name] == pytest.approx(value), name
    assert a["browser"] == "safari"

    b = got.loc["B"]
    gaps = np.array([2.0, 2.0, 2.0, 394.0, 1.0])
    expected_b = {
        "is_agent": 1,
        "duration_s": 401.0,
        "gap_mean_s": gaps.mean(),
        "gap_std_s": np.sqrt(np.mean((gaps - gaps.mean()) ** 2)),
        "gap_min_s": 1.0,
        "events_per_minute": 60 * 6 / 401,
        "max_5min_per_minute": 4 / 5,
        "start_hour": 23,
        "n_events": 6,
        "page_views": 0,
        "item_views": 4,
        "cart_adds": 0,
        "purchases": 0,
        "hovers": 0,
        "filters": 2,
        "cart_to_view": 0.0,
        "conversion": 0.0,
        "hover_intensity": 0.0,
        "unique_pages": 3,
        "unique_products": 2,
        "max_product_views": 2,
        "headless": 1,
        "automation": 0,
    }
    for name, value in expected_b.items():
        assert b[name] == pytest.approx(value), name
    assert b["browser"] == "chrome"
    assert np.isnan(b[list(features.FEATURE_GROUPS["price"])].to_numpy(dtype=float)).all()  # no quotes seen
    assert got.loc["A", "group"] != got.loc["B", "group"]


def test_row_order_does_not_matter_and_single_events_have_undefined_gaps():
    rows = TWO_SESSIONS + [("C", "e3", "human", 0, A_START, "page_view", "/shop", "", SAFARI)]
    table = make_table(rows)
    shuffled = table.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(
        features.session_features(table, PRICES, "session"), features.session_features(shuffled, PRICES, "session")
    )
    c = features.session_features(table, None, "session").loc["C"]
    assert np.isnan(c["gap_mean_s"]) and np.isnan(c["gap_min_s"])
    assert c["duration_s"] == 0 and c["events_per_minute"] == 60.0  # duration floored at MIN_DURATION_S = 1 s
    assert c["max_5min_per_minute"] == pytest.approx(1 / 5)


def test_units_and_leakage_groups():
    # session S1 ran experiments x and y; session S2 ran y; S3 ran z alone
    rows = [
        ("S1", "x", "agent", 0, A_START, "page_view", "/p", "", HEADLESS),
        ("S1", "y", "agent", 5, A_START, "page_view", "/p", "", HEADLESS),
        ("S2", "y", "agent", 9, A_START, "page_view", "/p", "", HEADLESS),
        ("S3", "z", "human", 0, A_START, "page_view", "/p", "", SAFARI),
    ]
    table = make_table(rows)
    groups = features.leakage_groups(table, "session")
    assert groups["S1"] == groups["S2"] != groups["S3"]
    by_experiment = features.session_features(make_table(rows, "experiment"), None, "experiment")
    assert by_experiment.loc["x", "group"] == by_experiment.loc["y", "group"] != by_experiment.loc["z", "group"]
    assert by_experiment.loc["y", "n_events"] == 2 and by_experiment.loc["x", "n_events"] == 1


def test_user_agent_parsing():
    agents = pd.Series(
        [
            SAFARI,
            HEADLESS,
            "python-requests/2.31.0",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
            "Safari/537.36 Edg/131.0",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 "
            "Playwright/1.45",
        ]
    )
    got = features.user_agent_features(agents)
    assert got["browser"].tolist() == ["safari", "chrome", "other", "firefox", "edge", "chrome"]
    assert got["headless"].tolist() == [0, 1, 0, 0, 0, 0]
    assert got["automation"].tolist() == [0, 0, 1, 0, 0, 1]


def test_matches_a_slow_per_unit_reference():
    rng = np.random.default_rng(7)
    names = ["page_view", "view_item_page", "add_item_to_cart", "checkout_start", "hover_over_title", "search"]
    rows = []
    for s in range(40):
        start = f"2026-01-{1 + s % 28:02d} {s % 24:02d}:00:00"
        t = np.cumsum(rng.exponential(60.0, rng.integers(1, 15)))
        for seconds in t:
            product = f"p{rng.integers(0, 4)}" if rng.random() < 0.7 else ""
            rows.append(
                (
                    f"s{s}",
                    f"e{s}",
                    "agent" if s % 3 == 0 else "human",
                    seconds,
                    start,
                    names[rng.integers(0, len(names))],
                    f"/shop/{product or 'list'}",
                    product,
                    SAFARI,
                )
            )
    table = make_table(rows)
    got = features.session_features(table, None, "session")
    for sid, part in table.groupby("session"):
        ns = part["ts"].dt.as_unit("ns").astype("int64").to_numpy()
        t, gaps = (ns - ns[0]) / 1e9, np.diff(ns) / 1e9
        row = got.loc[sid]
        assert row["duration_s"] == pytest.approx(t.max() - t.min())
        if gaps.size:
            assert row["gap_std_s"] == pytest.approx(gaps.std()) and row["gap_min_s"] == pytest.approx(gaps.min())
        window = max(((t >= x) & (t < x + 300)).sum() for x in t)
        assert row["max_5min_per_minute"] == pytest.approx(window / 5)
        assert row["unique_pages"] == part["page"].nunique()
        with_product = part.loc[part["product"] != "", "product"]
        assert row["max_product_views"] == (with_product.value_counts().max() if len(with_product) else 0)
        assert row["purchases"] == (part["event"] == "checkout_start").sum()


def test_bad_input_is_named():
    table = make_table(TWO_SESSIONS)
    with pytest.raises(KeyError, match="user_agent"):
        features.session_features(table.drop(columns="user_agent"))
    with pytest.raises(ValueError, match="unit must be one of"):
        features.session_features(table, unit="trajectory")
    mixed = table.copy()
    mixed.loc[0, "is_agent"] = 1
    with pytest.raises(ValueError, match="mix agent and human"):
        features.session_features(mixed, unit="session")
    with pytest.raises(ValueError, match="positive numbers"):
        features.session_features(table, PRICES.assign(price=[10.0, -1.0]), unit="session")


def test_design_matrix_one_hot_browser_and_keeps_nan():
    got = features.session_features(make_table(TWO_SESSIONS), None, "session")
    x, names = features.design_matrix(got, ["n_events", "browser", "price_mean"])
    assert names == ["n_events", *[f"browser={b}" for b in features.BROWSERS], "price_mean"]
    assert x[:, 1:6].sum(axis=1).tolist() == [1.0, 1.0] and np.isnan(x[:, -1]).all()
    assert "headless" not in features.columns_without(["user_agent"])


def test_before_purchase_keeps_the_events_before_the_first_checkout():
    rows = TWO_SESSIONS + [("D", "e4", "human", 0, A_START, "checkout_start", "/shop/checkout", "", SAFARI)]
    table = make_table(rows).sample(frac=1.0, random_state=1)  # any row order
    prefix = features.before_purchase(table, "session")
    kept = prefix.groupby("session")["event"].agg(list)
    assert kept["A"] == ["page_view", "view_item_page", "hover_over_title", "add_item_to_cart"]
    assert len(kept["B"]) == 6  # never buys: every event
    assert "D" not in kept.index  # its first event is the checkout
