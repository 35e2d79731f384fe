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
from phantom_lib.sim.dynamics import Market, PricingState, price_terms, reward_terms, robust_step
from phantom_lib.sim.market import Sampler
from phantom_lib.sim.samplers import make_sampler

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


def sampler_draws(
    sampler: Sampler, prices: np.ndarray, alphas: np.ndarray, n: int, seed: int
) -> tuple[np.ndarray, ...]:
    """``n`` market draws at fixed prices and shares: q (n, K, N), f (n, K), the default
    environment's reward (n, K) as if prices had just risen by 10 %, and the sampled states (n, K)."""
    rng = np.random.default_rng(seed)
    samples = [sampler.sample(prices, alphas, rng) for _ in range(n)]
    params = EnvConfig().step_params()
    priced = price_terms(np, prices, prices * 1.1, params)
    q = np.stack([s.q for s in samples])
    f = np.stack([s.f for s in samples])
    reward = np.stack([reward_terms(np, prices, s.q, s.f, priced, params)["reward"] for s in samples])
    return q, f, reward, np.stack([s.n_states for s in samples])


def differing(base: tuple[np.ndarray, ...], other: tuple[np.ndarray, ...]) -> list[tuple[str, int]]:
    """(name, candidate) of every q column, f and reward of two :func:`sampler_draws` results
    whose distributions differ by :func:`same_distribution` (the sampled states are not compared)."""
    failed = []
    for name, a, b in zip(("q", "f", "reward"), base[:3], other[:3]):
        for k in range(a.shape[1]):
            columns = [(a[:, k, i], b[:, k, i]) for i in range(a.shape[2])] if name == "q" else [(a[:, k], b[:, k])]
            failed += [(name, k) for x, z in columns if not same_distribution(x, z)]
    return failed


STEP_PRICES = (60.0, 45.0, 52.0)
"""Prices of :func:`fixed_state`: around both classes' valuations, so some draws have demand and some not."""


def fixed_state(prices=STEP_PRICES) -> PricingState:
    """A pricing state at ``prices`` (N,) with an empty proxy, f 0.5 and alpha_adv 0.3."""
    n = len(prices)
    return PricingState(np.asarray(prices, float), np.zeros(n), 0.5, 0.3, np.int32(0), np.int32(0))


def env_steps_numpy(backend, beh, config, n, seed, prices=STEP_PRICES, sampler=None):
    """``n`` steps with action 5 from one fixed state (each from the same state, fresh draws) on a
    host backend (or ``sampler``): reward, alpha_adv, q_0 and f of each, arrays of shape (n,)."""
    sampler = make_sampler(backend, beh, config.market) if sampler is None else sampler
    rng = np.random.default_rng(seed)

    def sample(d, a):
        s = sampler.sample_at(d, a, rng)
        return s.q, s.f, s.n_states, s.sales

    market = Market(lambda p: sampler.draw_demand(p, rng), sample)
    params, candidates = config.step_params(), config.candidate_set()
    rows = [robust_step(np, fixed_state(prices), 5, params, market, candidates, config.adversary) for _ in range(n)]
    return {
        "reward": np.array([r[1] for r in rows]),
        "alpha_adv": np.array([r[4]["alpha_adv"] for r in rows]),
        "q0": np.array([r[0].q[0] for r in rows]),
        "f": np.array([r[0].f for r in rows]),
    }


def env_steps_jax(beh, config, n, seed, prices=STEP_PRICES):
    """:func:`env_steps_numpy` on the functional jax env (one vmapped step from the fixed state)."""
    import jax
    import jax.numpy as jnp

    from phantom_lib.sim import jax_env

    env, params = jax_env.make(config, beh)
    state = jax.tree.map(jnp.asarray, fixed_state(prices))
    state = state._replace(
        prices=state.prices.astype(jnp.float32),
        q=state.q.astype(jnp.float32),
        f=jnp.float32(state.f),
        alpha_adv=jnp.float32(state.alpha_adv),
    )
    keys = jax.random.split(jax.random.key(seed), n)
    _, new, reward, _, _, info = jax.jit(jax.vmap(env.step, in_axes=(0, None, None, None)))(
        keys, state, jnp.int32(5), params
    )
    return {
        "reward": np.asarray(reward, float),
        "alpha_adv": np.asarray(info["alpha_adv"], float),
        "q0": np.asarray(new.q[:, 0], float),
        "f": np.asarray(new.f, float),
    }
