"""Kernels at both granularities, catalog expansion, KL between classes, and chain results.

Every expectation is an independent fact: hand-worked small cases, closed forms, a naive
reference count, or a statistical test at a fixed seed with its tolerance stated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from phantom_lib.behaviour.class_divergence import class_kl, describe, state_kl
from phantom_lib.behaviour.distinguish import pair_counts
from phantom_lib.behaviour.kernels import (
    MAX_EXPANDED_STATES,
    FactorisedChain,
    Kernel,
    add_state,
    checked_demand,
    class_demand,
    class_kernels,
    demand_condition,
    estimate_kernel,
    expand,
    paths_to_table,
    sample_paths,
)
from phantom_lib.behaviour.markov import (
    absorbing_chain,
    class_summary,
    restart_matrix,
    stationary,
    visit_frequencies,
)

HOME = ("/home", "", "page_view")
X_VIEW = ("/p/x", "x", "view_item_page")
X_CART = ("/p/x", "x", "add_item_to_cart")
Y_VIEW = ("/p/y", "y", "view_item_page")


def trajectory_table(sessions: dict[str, tuple[str, list[tuple[str, str, str]]]]) -> pd.DataFrame:
    """A hand-built trajectory table: id -> (actor, [(page, product, event), ...])."""
    rows = [
        {
            "trajectory": tid,
            "actor": actor,
            "is_agent": int(actor == "agent"),
            "step": i,
            "page": page,
            "product": product,
            "event": event,
        }
        for tid, (actor, events) in sessions.items()
        for i, (page, product, event) in enumerate(events)
    ]
    return pd.DataFrame(rows)


THREE_SESSIONS = trajectory_table(
    {
        "s1": ("human", [HOME, X_VIEW, X_CART]),
        "s2": ("human", [HOME, Y_VIEW]),
        "s3": ("human", [X_VIEW, X_CART, HOME]),
        "g1": ("agent", [HOME]),
    }
)


def test_event_level_mle_on_three_sessions():
    # s1: pv->vi, vi->add, add->end | s2: pv->vi, vi->end | s3: vi->add, add->pv, pv->end
    k = class_kernels(THREE_SESSIONS, "event")["human"]
    assert k.labels == ("add_item_to_cart", "page_view", "view_item_page", "session_end")
    expected = [[0, 1 / 2, 0, 1 / 2], [0, 0, 2 / 3, 1 / 3], [2 / 3, 0, 0, 1 / 3], [0, 0, 0, 1]]
    np.testing.assert_allclose(k.matrix, expected, atol=1e-15)
    np.testing.assert_allclose(k.pi0, [0, 2 / 3, 1 / 3, 0])


def test_fine_level_mle_on_three_sessions():
    kernels = class_kernels(THREE_SESSIONS, "fine")
    h = "/home||page_view"
    xa, xv, yv = "/p/x|x|add_item_to_cart", "/p/x|x|view_item_page", "/p/y|y|view_item_page"
    human, agent = kernels["human"], kernels["agent"]
    assert human.labels == agent.labels == (h, xa, xv, yv, "session_end")
    # H -> XV, YV, end once each; XA -> H, end; XV -> XA twice; YV -> end
    expected = [
        [0, 0, 1 / 3, 1 / 3, 1 / 3],
        [1 / 2, 0, 0, 0, 1 / 2],
        [0, 1, 0, 0, 0],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 1],
    ]
    np.testing.assert_allclose(human.matrix, expected, atol=1e-15)
    np.testing.assert_allclose(human.pi0, [2 / 3, 0, 1 / 3, 0, 0])
    np.testing.assert_allclose(agent.matrix[0], [0, 0, 0, 0, 1])  # the agent's one session: H then end
    np.testing.assert_allclose(agent.pi0, [1, 0, 0, 0, 0])


def test_fine_state_joins_page_product_event_and_blanks_missing_products():
    table = THREE_SESSIONS.assign(product=THREE_SESSIONS["product"].replace("", None))
    states = add_state(table, "fine")["state"].tolist()
    assert states[:3] == ["/home||page_view", "/p/x|x|view_item_page", "/p/x|x|add_item_to_cart"]
    assert add_state(table, "event")["state"].tolist() == table["event"].tolist()


def test_granularity_and_columns_are_checked():
    with pytest.raises(ValueError, match=r"granularity must be one of \('event', 'fine'\)"):
        add_state(THREE_SESSIONS, "page")
    with pytest.raises(KeyError, match=r"needs column\(s\) \['page'\].*phantom_lib.data.trajectories"):
        add_state(THREE_SESSIONS.drop(columns="page"), "fine")
    with pytest.raises(ValueError, match="labels must include the absorbing state 'session_end'"):
        estimate_kernel(THREE_SESSIONS, labels=("page_view", "view_item_page", "add_item_to_cart"))
    with pytest.raises(KeyError, match=r"states \['view_item_page'\] are not among the labels"):
        estimate_kernel(THREE_SESSIONS, labels=("page_view", "add_item_to_cart", "session_end"))


def naive_counts(table: pd.DataFrame, labels: tuple[str, ...]) -> np.ndarray:
    """Reference: walk each trajectory in Python, in step order."""
    index = {label: i for i, label in enumerate(labels)}
    counts = np.zeros((len(labels), len(labels)))
    for _, group in table.groupby("trajectory"):
        events = group.sort_values("step")["event"].tolist() + ["session_end"]
        for a, b in zip(events[:-1], events[1:]):
            counts[index[a], index[b]] += 1
    return counts


@settings(max_examples=40, deadline=None)
@given(
    sessions=st.lists(st.lists(st.sampled_from("abc"), min_size=1, max_size=6), min_size=1, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_vectorised_counts_equal_a_naive_walk_in_any_row_order(sessions, seed):
    table = pd.DataFrame(
        [{"trajectory": f"t{j}", "step": i, "event": e} for j, s in enumerate(sessions) for i, e in enumerate(s)]
    )
    shuffled = table.sample(frac=1.0, random_state=seed)
    labels = ("a", "b", "c", "session_end")
    np.testing.assert_array_equal(estimate_kernel(shuffled, labels=labels).counts, naive_counts(table, labels))


def test_paths_to_table_round_trips_through_an_independent_pair_count():
    matrix = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3], [0, 0, 1.0]])
    paths = sample_paths(matrix, np.array([0.5, 0.5, 0]), 300, np.random.default_rng(4), end=2)
    table = paths_to_table(paths, ("a", "b", "session_end"), "agent")
    k = estimate_kernel(table, labels=("a", "b", "session_end"))
    np.testing.assert_array_equal(k.counts[:2, :2], pair_counts(paths, 2).sum(axis=0))
    assert k.counts[:, 2].sum() == table["trajectory"].nunique() == (paths[:, 0] >= 0).sum()
    assert set(table["is_agent"]) == {1}


# ---------------------------------------------------------------- KL between classes


def kernel_from_counts(counts: list[list[float]]) -> Kernel:
    labels = ("a", "b", "c", "session_end")
    c = np.array(counts, dtype=float)
    from phantom_lib.behaviour.kernels import from_counts

    return from_counts(labels, c, np.array([1.0, 0, 0, 0]))


def test_state_kl_on_a_hand_worked_pair():
    p = kernel_from_counts([[0, 1, 1, 0], [1, 0, 0, 2], [0, 0, 0, 0], [0, 0, 0, 0]])
    q = kernel_from_counts([[0, 3, 1, 0], [0, 0, 0, 0], [2, 0, 0, 0], [0, 0, 0, 0]])
    kl = state_kl(p, q)
    expected_a = 0.5 * np.log(0.5 / 0.75) + 0.5 * np.log(0.5 / 0.25)
    assert kl["a"] == pytest.approx(expected_a, abs=1e-8)
    assert np.isnan(kl["b"]) and np.isnan(kl["c"])  # b: Q never leaves b to an event; c: P never visits
    assert class_kl(p, q) == pytest.approx(np.nanmean(kl), abs=1e-12)
    assert list(kl.index) == ["a", "b", "c"]


def test_kl_needs_a_shared_state_order():
    p = kernel_from_counts([[0, 1, 1, 0], [1, 0, 0, 2], [0, 0, 0, 0], [0, 0, 0, 0]])
    with pytest.raises(ValueError, match="same state order"):
        state_kl(p, p.reorder(("b", "a", "c", "session_end")))


# ---------------------------------------------------------------- catalog expansion

T_SMALL = Kernel(
    ("browse", "checkout_start", "view", "session_end"),
    np.array([[0.3, 0.2, 0.4, 0.1], [0.5, 0.0, 0.2, 0.3], [0.25, 0.25, 0.25, 0.25], [0, 0, 0, 1.0]]),
    np.array([0.6, 0.1, 0.3, 0.0]),
)


def test_demand_condition_normalises_and_validates():
    np.testing.assert_allclose(demand_condition(checked_demand([30, 0, 70])), [0.3, 0, 0.7])
    np.testing.assert_allclose(demand_condition(checked_demand([0, 0, 0, 0])), [0.25] * 4)
    with pytest.raises(ValueError, match="non-negative; negative at products \\[1\\]"):
        checked_demand([1, -1])
    with pytest.raises(ValueError, match="non-finite entries at products \\[0\\]"):
        checked_demand([np.nan, 1])
    with pytest.raises(ValueError, match="non-empty 1-D array"):
        checked_demand([[1, 2]])


def test_expansion_of_a_two_state_chain_by_hand():
    k = Kernel(("a", "session_end"), np.array([[0.25, 0.75], [0, 1.0]]), np.array([1.0, 0]))
    m = expand(k, [1, 3])  # c = (1/4, 3/4); state order (a,0), (a,1), (end,0), (end,1)
    np.testing.assert_allclose(m[0], [0.25 * 0.25, 0.25 * 0.75, 0.75 * 0.25, 0.75 * 0.75])
    np.testing.assert_allclose(m[1], m[0])
    np.testing.assert_allclose(m[2], [0, 0, 0.25, 0.75])


def test_explicit_and_factorised_expansions_agree_on_every_transition():
    demand = np.array([20.0, 0.0, 50.0, 30.0])  # one product without demand
    chain = FactorisedChain(T_SMALL, demand)
    full = chain.expanded()
    e, n = T_SMALL.n_states, demand.size
    assert full.shape == (e * n, e * n)
    np.testing.assert_allclose(full.sum(axis=1), 1.0, atol=1e-12)
    for i in range(e * n):
        for j in range(e * n):
            assert full[i, j] == pytest.approx(chain.probability(divmod(i, n), divmod(j, n)), abs=1e-15)
    # the next state never depends on the current product, labels work as events
    assert chain.probability(("view", 3), ("browse", 2)) == pytest.approx(0.25 * 0.5)
    np.testing.assert_allclose(full[0 * n + 1], full[0 * n + 0])


def test_expansion_refuses_large_catalogs_and_points_to_the_factorised_form():
    products = MAX_EXPANDED_STATES // T_SMALL.n_states + 1
    with pytest.raises(ValueError, match="use the factorised form FactorisedChain"):
        expand(T_SMALL, np.ones(products))
    chain = FactorisedChain(T_SMALL, np.ones(products))  # the factorised form has no limit
    assert chain.probability(("browse", 0), ("view", products - 1)) == pytest.approx(0.4 / products)
    with pytest.raises(IndexError, match="product index"):
        chain.probability(("browse", products), ("view", 0))
    with pytest.raises(TypeError, match="kernel must be"):
        FactorisedChain(T_SMALL.matrix, np.ones(2))  # type: ignore[arg-type]


def transition_table(events: np.ndarray, products: np.ndarray, e: int, n: int) -> np.ndarray:
    """Observed moves (e, p) -> (e', p') as counts (E*N, E*N + 1); the last column = session ended."""
    src = events[:, :-1] * n + products[:, :-1]
    dst = np.where(events[:, 1:] >= 0, events[:, 1:] * n + products[:, 1:], e * n)
    valid = events[:, :-1] >= 0
    counts = np.zeros((e * n, e * n + 1))
    np.add.at(counts, (src[valid], dst[valid]), 1)
    return counts


def chi_square_fit(counts: np.ndarray, matrix: np.ndarray, end_columns: np.ndarray) -> float:
    """Pooled chi-square goodness of fit of observed rows against a matrix's rows (p-value; 0 if a
    move of probability 0 was observed). Rows with fewer than 200 moves are left out."""
    probs = np.hstack([np.delete(matrix, end_columns, axis=1), matrix[:, end_columns].sum(axis=1, keepdims=True)])
    observed_cols = np.append(np.delete(np.arange(matrix.shape[0]), end_columns), -1)
    counts = counts[:, observed_cols]
    statistic, dof = 0.0, 0
    for row in np.flatnonzero(counts.sum(axis=1) >= 200):
        support = probs[row] > 0
        expected = counts[row].sum() * probs[row][support]
        if counts[row][~support].sum() > 0:
            return 0.0
        statistic += ((counts[row][support] - expected) ** 2 / expected).sum()
        dof += support.sum() - 1
    return float(stats.chi2.sf(statistic, dof))


def test_factorised_sampler_fits_the_explicit_matrix():
    demand = np.array([20.0, 0.0, 50.0, 30.0])
    chain = FactorisedChain(T_SMALL, demand)
    e, n = T_SMALL.n_states, demand.size
    events, products = chain.sample(20000, np.random.default_rng(11), max_len=30, stop=())
    full = chain.expanded()
    end_columns = np.arange(T_SMALL.end * n, (T_SMALL.end + 1) * n)
    counts = transition_table(events, products, e, n)
    # sampled transitions fit kron(T, outer(c, c)) row-normalised (alpha = 1e-3 at this seed)
    assert chi_square_fit(counts, full, end_columns) > 1e-3
    # first states fit kron(pi0, c)
    start = np.bincount(events[:, 0] * n + products[:, 0], minlength=e * n)
    expected = 20000 * np.kron(T_SMALL.pi0, demand_condition(checked_demand(demand)))
    assert stats.chisquare(start[expected > 0], expected[expected > 0]).pvalue > 1e-3
    assert start[expected == 0].sum() == 0
    # the test has power: demand shifted by 5 points between two products is rejected
    shifted = expand(T_SMALL, [25.0, 0.0, 45.0, 30.0])
    assert chi_square_fit(counts, shifted, end_columns) < 1e-6


def test_sampler_stops_after_checkout_and_is_seeded():
    chain = FactorisedChain(T_SMALL, [1.0, 1.0])
    events, products = chain.sample(500, np.random.default_rng(2))
    checkout = T_SMALL.index("checkout_start")
    rows, cols = np.nonzero(events == checkout)
    assert rows.size > 0
    after = cols + 1 < events.shape[1]
    assert np.all(events[rows[after], cols[after] + 1] == -1)
    np.testing.assert_array_equal(products < 0, events < 0)
    again = chain.sample(500, np.random.default_rng(2))
    np.testing.assert_array_equal(again[0], events)
    np.testing.assert_array_equal(again[1], products)


# ---------------------------------------------------------------- chain results


def test_fundamental_matrix_of_a_small_chain_by_hand():
    k = Kernel(("a", "b", "session_end"), np.array([[0, 0.5, 0.5], [0.5, 0, 0.5], [0, 0, 1.0]]), np.array([1.0, 0, 0]))
    result = absorbing_chain(k)
    # (I - Q)^-1 with Q = [[0, .5], [.5, 0]] is (1 / .75) [[1, .5], [.5, 1]]
    np.testing.assert_allclose(result.fundamental, np.array([[1, 0.5], [0.5, 1]]) / 0.75)
    assert result.expected_length == pytest.approx(2.0)
    np.testing.assert_allclose(result.absorption, [1.0])
    np.testing.assert_allclose(visit_frequencies(k), [4 / 3, 2 / 3, 1.0])


def test_fundamental_matrix_results_match_monte_carlo_within_three_standard_errors():
    rng = np.random.default_rng(5)
    n = 40000
    full = absorbing_chain(T_SMALL)
    paths = sample_paths(T_SMALL.matrix, T_SMALL.pi0, n, rng, max_len=400, end=T_SMALL.end)
    assert (paths[:, -1] < 0).all()  # no path hit the length cap
    lengths = (paths >= 0).sum(axis=1)
    assert abs(lengths.mean() - full.expected_length) < 3 * lengths.std(ddof=1) / np.sqrt(n)
    for i, label in enumerate(full.transient):
        visits = (paths == T_SMALL.index(label)).sum(axis=1)
        assert abs(visits.mean() - full.visits[i]) < 3 * visits.std(ddof=1) / np.sqrt(n), label

    checkout = T_SMALL.index("checkout_start")
    cut = absorbing_chain(T_SMALL, ["checkout_start"])
    paths = sample_paths(T_SMALL.matrix, T_SMALL.pi0, n, rng, max_len=400, end=T_SMALL.end, stop=[checkout])
    lengths = (paths >= 0).sum(axis=1)
    last = paths[np.arange(n), lengths - 1]
    reached = (last == checkout).astype(float)
    p = cut.absorbed_in("checkout_start")
    assert abs(reached.mean() - p) < 3 * np.sqrt(p * (1 - p) / n)
    assert cut.absorbed_in("session_end") == pytest.approx(1 - p)
    assert abs(lengths.mean() - cut.expected_length) < 3 * lengths.std(ddof=1) / np.sqrt(n)


def test_class_summary_of_a_closed_form_case():
    # a -> a (q), checkout (r), end (1 - q - r); from a: P(checkout first) = r / (1 - q)
    q, r = 0.5, 0.2
    k = Kernel(
        ("a", "checkout_start", "session_end"),
        np.array([[q, r, 1 - q - r], [1.0, 0, 0], [0, 0, 1.0]]),
        np.array([1.0, 0, 0]),
    )
    summary = class_summary({"human": k})
    assert summary.loc["human", "p_checkout_start"] == pytest.approx(r / (1 - q))
    assert summary.loc["human", "p_session_end"] == pytest.approx(1 - r / (1 - q))
    assert summary.loc["human", "length_to_checkout_start"] == pytest.approx(1 / (1 - q) + r / (1 - q))
    # without stopping checkout returns to a: a is visited 1 / (1 - q - r) times, checkout r times that
    assert summary.loc["human", "expected_length"] == pytest.approx((1 + r) / (1 - q - r))


def test_trapped_states_are_reported():
    k = Kernel(("a", "b", "session_end"), np.array([[0, 1.0, 0], [1.0, 0, 0], [0, 0, 1.0]]), np.array([1.0, 0, 0]))
    with pytest.raises(ValueError, match=r"states \['a', 'b'\] never reach an absorbing state"):
        absorbing_chain(k)


def test_stationary_distribution_of_a_two_state_chain():
    a, b = 0.3, 0.1
    p = np.array([[1 - a, a], [b, 1 - b]])
    pi = stationary(p)
    np.testing.assert_allclose(pi, [b / (a + b), a / (a + b)], atol=1e-12)
    np.testing.assert_allclose(pi @ p, pi, atol=1e-12)


def test_stationary_distribution_of_a_birth_death_chain_by_detailed_balance():
    # up 0.4, down 0.2 on {0, 1, 2}: pi_{k+1} / pi_k = 0.4 / 0.2 = 2, so pi = (1, 2, 4) / 7
    p = np.array([[0.6, 0.4, 0], [0.2, 0.4, 0.4], [0, 0.2, 0.8]])
    pi = stationary(p)
    np.testing.assert_allclose(pi, np.array([1, 2, 4]) / 7, atol=1e-12)
    np.testing.assert_allclose(pi @ p, pi, atol=1e-12)


def test_restart_chain_stationary_distribution_is_the_renewal_share_of_visits():
    pi = stationary(restart_matrix(T_SMALL))
    visits = visit_frequencies(T_SMALL).to_numpy()
    np.testing.assert_allclose(pi, visits / visits.sum(), atol=1e-12)
    with pytest.raises(ValueError, match="not unique"):
        stationary(np.eye(2))


# ---------------------------------------------------------------- display helpers


def test_display_states_keep_the_most_visited_and_session_end():
    from phantom_lib.plots import display_states, short_label

    visits = {
        "human": pd.Series({"page_view": 3.0, "view_item_page": 0.5, "add_item_to_cart": 0.1, "session_end": 1.0}),
        "agent": pd.Series({"page_view": 1.0, "view_item_page": 0.2, "add_item_to_cart": 2.0, "session_end": 1.0}),
    }
    # the two most visited (max over classes): page_view 3, add_item_to_cart 2; cart sorts before nav
    assert display_states(visits, 3) == ["add_item_to_cart", "page_view", "session_end"]
    with pytest.raises(ValueError, match="max_states must be at least 2"):
        display_states(visits, 1)
    assert short_label("/hotel/products/abcdefghijkl|abcdefghijkl|page_view") == "page_view\n@abcdefghij…"
    assert short_label("/hotel||page_view") == "page_view\n@hotel"
    # the last 16 characters
    assert short_label("/airline/search/results||page_view") == "page_view\n@…e/search/results"


def test_class_demand_is_the_weighted_proxy_per_class():
    products, demand = class_demand(THREE_SESSIONS)
    assert products == ("x", "y")
    # human: x gets view (1) + cart (4) twice = 10, y gets view (1): q = 100 * (10, 1) / 11
    np.testing.assert_allclose(demand["human"], np.array([10, 1]) / 11 * 100, rtol=1e-9)
    np.testing.assert_allclose(demand["agent"], [0, 0])  # the agent only saw the home page
    chain = FactorisedChain(class_kernels(THREE_SESSIONS)["agent"], demand["agent"])
    np.testing.assert_allclose(chain.c, [0.5, 0.5])  # no demand: uniform


def test_describe_counts_what_the_kernels_rest_on():
    row = describe(class_kernels(THREE_SESSIONS))
    assert row["states"] == 4 and row["human trajectories"] == 3 and row["agent trajectories"] == 1
    assert row["human transitions"] == 3 + 2 + 3 and row["agent transitions"] == 1
    assert np.isnan(row["KL(T_H || T_A)"])  # the agent never moves event to event
