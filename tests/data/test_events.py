"""Action categories and the demand proxy (MODEL.md section 1)."""

import numpy as np
import pytest

from phantom_lib.data import events


def test_table_follows_the_method_not_the_prefix_accident():
    # erratum 2: checkout_start and remove_item are cart (4.0), not nav
    assert events.category_of("checkout_start") == "cart"
    assert events.category_of("remove_item") == "cart"
    assert events.weights_of(["checkout_start", "hover_over_title", "page_view", "search"]).tolist() == [4, 2, 1, 0.5]


def test_unknown_names_are_guessed_by_prefix_and_reported():
    cat = events.categorise(["hover_over_image", "filter_for_stars", "add_coupon", "zoom", "page_view"])
    assert cat.categories == ["dwell", "filter", "cart", "nav", "nav"]
    assert cat.guessed == {
        "add_coupon": "cart",
        "filter_for_stars": "filter",
        "hover_over_image": "dwell",
        "zoom": "nav",
    }


def test_demand_proxy_by_hand():
    q_hat, q = events.demand_proxy([0, 0, 2, 1], [4.0, 1.0, 2.0, 0.5], 4)
    np.testing.assert_allclose(q_hat, [5.0, 0.5, 2.0, 0.0])
    np.testing.assert_allclose(q, 100 * q_hat / 7.5, rtol=1e-9)
    with pytest.raises(ValueError, match=r"product_index must lie in \[0, 2\)"):
        events.demand_proxy([0, 2], [1.0, 1.0], 2)


def test_surge_discount_heuristic():
    p = events.surge_discount_prices([100, 100, 100], [10, 5, 1], rho_low=2, rho_high=8)
    np.testing.assert_allclose(p, [120, 100, 90])
