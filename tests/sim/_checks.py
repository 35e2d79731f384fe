"""Shared helpers of the simulator tests: two-sample checks and a deterministic market.

Statistical checks compare two samples and pass when the p-value exceeds :data:`ALPHA` = 1e-3
(the false-alarm rate per check when the model holds); every distribution test is paired with
a power check showing the same check, at the same sample sizes, rejects samples that differ.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from phantom_lib.behaviour.kernels import Kernel
from phantom_lib.behaviour.model import Behaviour
from phantom_lib.sim.config import EnvConfig
from phantom_lib.sim.dynamics import price_terms, reward_terms
from phantom_lib.sim.market import Sampler

ALPHA = 1e-3

LABELS = ("add_item_to_cart", "checkout_start", "hover_over_title", "page_view", "view_item_page", "session_end")
"""States of :func:`deterministic_behaviour` (omega 4, 4, 2, 1, 1)."""

HUMAN_MASS = 1.0 + 2.0
"""Weighted mass of the one human path page_view -> hover_over_title -> end."""

AGENT_MASS = 1.0 + 4.0 + 4.0
"""Weighted mass of the one agent path view_item_page -> add_item_to_cart -> checkout_start."""


def chi2_same(a: np.ndarray, b: np.ndarray) -> float:
    """p-value of a chi-square test that two arrays of category labels share one distribution."""
    labels = np.union1d(a, b)
    table = np.array([[np.sum(x == v) for v in labels] for x in (a, b)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 1.0  # one category in both samples: nothing to tell apart
    return float(stats.chi2_contingency(table).pvalue)


def same_distribution(a: np.ndarray, b: np.ndarray, decimals: int = 3) -> bool:
    """Two-sample KS p-value above ALPHA and means within 4 combined standard errors.

    Values are rounded to ``decimals`` first: float32 (jax) and float64 put point masses (a
    proxy of exactly 100, say) on different sides of the last digit.
    """
    a, b = np.round(np.asarray(a, float), decimals), np.round(np.asarray(b, float), decimals)
    se = np.hypot(a.std() / np.sqrt(a.size), b.std() / np.sqrt(b.size))
    return bool(stats.ks_2samp(a, b).pvalue > ALPHA and abs(a.mean() - b.mean()) <= 4 * se + 1e-9)


def _kernel(path: list[str], n_states: int) -> Kernel:
    """A kernel over :data:`LABELS` that always walks ``path`` and then ends."""
    index = {label: i for i, label in enumerate(LABELS)}
    matrix = np.zeros((n_states, n_states))
    matrix[:, index["session_end"]] = 1.0  # every state not on the path ends the session
    for a, b in zip(path[:-1], path[1:]):
        matrix[index[a]] = 0.0
        matrix[index[a], index[b]] = 1.0
    pi0 = np.zeros(n_states)
    pi0[index[path[0]]] = 1.0
    return Kernel(LABELS, matrix, pi0)


def deterministic_behaviour() -> Behaviour:
    """Humans always walk page_view -> hover_over_title -> end (mass :data:`HUMAN_MASS`), agents
    view_item_page -> add_item_to_cart -> checkout_start (mass :data:`AGENT_MASS`)."""
    s = len(LABELS)
    human = _kernel(["page_view", "hover_over_title", "session_end"], s)
    agent = _kernel(["view_item_page", "add_item_to_cart", "checkout_start"], s)
    return Behaviour(human, agent)


def sampler_draws(sampler: Sampler, prices: np.ndarray, alphas: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """``n`` market draws at fixed prices and shares: q (n, K, N), f (n, K) and the default
    environment's reward (n, K) as if prices had just risen by 10 %."""
    rng = np.random.default_rng(seed)
    samples = [sampler.sample(prices, alphas, rng) for _ in range(n)]
    params = EnvConfig().step_params()
    priced = price_terms(np, prices, prices * 1.1, params)
    q = np.stack([s.q for s in samples])
    f = np.stack([s.f for s in samples])
    reward = np.stack([reward_terms(np, prices, s.q, s.f, priced, params)["reward"] for s in samples])
    return q, f, reward


def differing(base: tuple[np.ndarray, ...], other: tuple[np.ndarray, ...]) -> list[tuple[str, int]]:
    """(name, candidate) of every q column, f and reward of two :func:`sampler_draws` results
    whose distributions differ by :func:`same_distribution`."""
    failed = []
    for name, a, b in zip(("q", "f", "reward"), base, other):
        for k in range(a.shape[1]):
            columns = [(a[:, k, i], b[:, k, i]) for i in range(a.shape[2])] if name == "q" else [(a[:, k], b[:, k])]
            failed += [(name, k) for x, z in columns if not same_distribution(x, z)]
    return failed
