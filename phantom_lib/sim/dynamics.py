"""The pure step code of the pricing environment, shared by every backend (Model reference, section 6).

Written once over an array namespace ``xp`` (numpy or jax.numpy): the numpy-backed gymnasium
adapter (:mod:`phantom_lib.sim.gym_env`) and the jit-compiled functional env
(:mod:`phantom_lib.sim.jax_env`) both call these functions and never each other.

* :func:`robust_step`: new prices, the worst of K candidate shares by one of
  :data:`ADVERSARIES` (``"sampled"``: each candidate's own market draw, keeping the worst one's
  sample, erratum 4; ``"closed_form"``: candidates scored without sessions by
  :func:`closed_form_rewards`, then one market draw at the worst share, Model reference,
  section 10), reward terms, margin-floor termination and max-steps truncation (erratum 7);
* :func:`candidate_shares`: the K candidate shares from alpha0 and eps_alpha, computable inside
  jit (for the jax env) with a mask of the candidates in use;
* :func:`observe`: the float32 observation [q (N), p (N), f_last, alpha_adv_last, alpha0, eps_alpha].

Parameters and state are values (:class:`StepParams`, :class:`PricingState`: named tuples, so
pytrees under jax); the market comes in as two functions (:class:`Market`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

SCALE_RANGE = (0.8, 1.2)
"""Price multipliers of the lowest and highest action."""

ANCHOR_MARKUP = 1.2
"""The supra-competitive anchor is clip(ANCHOR_MARKUP * mu_H, p_low, p_high)."""


def action_index(action: Any, levels: int) -> int:
    """``action`` as a Python int in [0, levels), for host-side drivers (gymnasium, HostEnv).

    Accepts Python and numpy integers and 0-d integer arrays; anything else, or an integer out
    of range, is a ``ValueError`` naming the allowed range (the pure jax step clips instead).
    """
    if isinstance(action, np.ndarray) and action.shape == () and action.dtype.kind in "iu":
        action = action.item()
    if isinstance(action, (int, np.integer)) and not isinstance(action, (bool, np.bool_)) and 0 <= action < levels:
        return int(action)
    raise ValueError(f"action must be an integer in [0, {levels}) (one of Discrete({levels})); got {action!r}")

ADVERSARIES = ("sampled", "closed_form")
"""How a step picks its worst candidate share (``EnvConfig.adversary``, Model reference, section 10)."""

REWARD_BASES = ("proxy", "sales")
"""What the reward's revenue is computed on (``EnvConfig.reward_on``, Model reference, section 12):
the proxy q (the thesis's platform) or the units sold (a platform that learns from its sales)."""


class StepParams(NamedTuple):
    """Numbers of one environment configuration (a pytree: numpy or jax leaves).

    The candidate shares are not stored: they follow from ``alpha0`` and ``eps_alpha``
    (:func:`candidate_shares`), so a batch of environments may differ in both.
    """

    scales: Any
    alpha0: Any
    eps_alpha: Any
    p_low: Any
    p_high: Any
    lambda_coi: Any
    info_value: Any
    eta_ux: Any
    w_profit: Any
    anchor: Any
    margin_floor: Any
    patience: Any
    max_steps: Any


class PricingState(NamedTuple):
    """The environment's state between steps.

    Attributes:
        prices: p_t, shape (N,). q: the follower's proxy q_t, shape (N,).
        f: agent probability of the kept sample. alpha_adv: the candidate share it came from.
        t: steps taken. low_margin: consecutive steps with margin below the floor.
    """

    prices: Any
    q: Any
    f: Any
    alpha_adv: Any
    t: Any
    low_margin: Any


class Market(NamedTuple):
    """The follower of one step as two functions (numpy or jax arrays).

    Attributes:
        demand: prices p (N,) -> true demand d (2, N) per class, rows summing to 100 (or all
            zero when every price exceeds every valuation; to 100 rho_Y with price-responsive
            visits, Model reference, section 10); drawn once per step.
        sample: (d (2, N), candidate shares (K',)) -> (q (K', N), f (K',), sampled states (K',),
            sales (K', N)): M sessions per share at demand condition c_Y = d_Y / sum(d_Y) (of which
            only the visiting ones record states with price-responsive visits) and the units
            they buy (Model reference, section 12).
    """

    demand: Callable[[Any], Any]
    sample: Callable[[Any, Any], tuple[Any, Any, Any, Any]]


class Candidates(NamedTuple):
    """The candidate agent shares of a step.

    Attributes:
        alphas: shares alpha_k, shape (K,).
        active: which of them are scored, bool shape (K,), or ``None`` for all. A static K with
            a mask lets one compiled step serve eps_alpha = 0 (only alpha0 is scored) as well.
    """

    alphas: Any
    active: Any = None


def candidate_shares(xp: Any, alpha0: Any, eps_alpha: Any, n_candidates: int) -> Candidates:
    """alpha_k = linspace(max(0, alpha0 - eps), min(1, alpha0 + eps), K) (Model reference, section 6).

    With eps_alpha = 0 the only candidate is alpha0: every share equals alpha0 and only the
    first is active. ``alpha0`` and ``eps_alpha`` may be traced (jax) values; K is static.
    """
    lo = xp.maximum(0.0, alpha0 - eps_alpha)
    hi = xp.minimum(1.0, alpha0 + eps_alpha)
    if n_candidates == 1:
        return Candidates(xp.reshape(xp.asarray(alpha0), (1,)), None)
    spread = eps_alpha > 0
    index = xp.arange(n_candidates)
    grid = xp.where(index == n_candidates - 1, hi, lo + index * ((hi - lo) / (n_candidates - 1)))  # numpy's linspace
    return Candidates(xp.where(spread, grid, alpha0), xp.logical_or(spread, index == 0))


def closed_form_rewards(xp: Any, prices: Any, demand: Any, alphas: Any, params: StepParams) -> Any:
    """Scores of candidate shares without sessions (``adversary = "closed_form"``, Model reference, section 10).

    q_k = (1 - alpha_k) d_H + alpha_k d_A; r_k = w * (p.q_k - p_low * sum(q_k))
    - lambda * alpha_k * info_value * max(p_low * sum(q_k), 1) (no UX or supra terms).

    Args:
        prices: p, shape (N,). demand: true demand d, shape (2, N) (rows sum to 100 or are zero;
            with price-responsive visits to 100 rho_Y, so the scores count only expected visitors).
        alphas: candidate shares, shape (K,).

    Returns:
        r_k, shape (K,) (reward units). When demand is all zero, r_k = -lambda * alpha_k * info_value.
    """
    mix = (1.0 - alphas)[:, None] * demand[0] + alphas[:, None] * demand[1]
    total = mix.sum(axis=-1)
    profit = mix @ prices - params.p_low * total
    leak = params.lambda_coi * alphas * params.info_value * xp.maximum(params.p_low * total, 1.0)
    return params.w_profit * profit - leak


def price_terms(xp: Any, prices: Any, prev_prices: Any, params: StepParams) -> dict[str, Any]:
    """Terms that depend on prices only: relative change, volatility, supra-competitive share."""
    n = prices.shape[-1]  # means as sums / n: numpy's mean costs twice a sum on (N,) arrays
    rel = (prices - prev_prices) / xp.maximum(prev_prices, 1.0)
    over = xp.maximum(prices / params.anchor - 1.0, 0.0)  # > 0 exactly where p > anchor
    mean_price = prices.sum() / n
    return {
        "volatility": xp.abs(rel).sum() / n,
        "upward": xp.maximum(rel, 0.0).sum() / n,
        "supra": (over * over).sum() / n,
        "supra_share": (over > 0).sum() / n,
        "coi_level": mean_price - params.p_low,
        "margin": (mean_price - params.p_low) / mean_price,
    }


def reward_terms(
    xp: Any, prices: Any, q: Any, f: Any, priced: dict[str, Any], params: StepParams, sales: Any = None,
    reward_on: str = "proxy",
) -> dict[str, Any]:
    """Reward and its terms for each candidate (Model reference, sections 6 and 12).

    Args:
        prices: p_t, shape (N,). q: proxies, shape (K, N). f: agent probabilities, shape (K,).
        priced: :func:`price_terms` of this step.
        sales: units bought per candidate and product, shape (K, N), or ``None`` (no sales terms).
        reward_on: one of :data:`REWARD_BASES` (static): the volume vector x the reward is computed
            on, x = q (``"proxy"``, the thesis) or x = sales (``"sales"``, which needs ``sales``).

    Returns:
        arrays of shape (K,): revenue = proxy_revenue = p.q (the thesis's revenue on the
        proxy, whatever ``reward_on``), with ``sales``: sales_revenue p.sales (price units) and
        units_sold sum(sales); then on the basis x: budget B = max(p_low * S, 1) with S = sum(x)
        (100 with the share proxy; the mean mass per session with the mass proxy; units sold on
        sales), profit p.x - p_low * S, coi_leak, coi_penalty, ux_penalty, supra_penalty and
        reward r = w_profit * profit - coi_penalty - ux_penalty - supra_penalty.
    """
    if reward_on not in REWARD_BASES or (reward_on == "sales" and sales is None):
        raise ValueError(f"reward_on must be one of {REWARD_BASES} (and 'sales' needs the step's sales); got "
                         f"{reward_on!r}")
    proxy_revenue = q @ prices
    extra: dict[str, Any] = {}
    if sales is not None:
        sold = sales.astype(prices.dtype)
        extra = {"proxy_revenue": proxy_revenue, "sales_revenue": sold @ prices, "units_sold": sold.sum(axis=-1)}
    basis = sold if reward_on == "sales" else q
    total = basis.sum(axis=-1)
    budget = xp.maximum(params.p_low * total, 1.0)
    revenue = basis @ prices
    profit = revenue - params.p_low * total
    coi_leak = f * params.info_value
    coi_penalty = params.lambda_coi * coi_leak * budget
    ux_penalty = params.eta_ux * budget * (priced["volatility"] + 0.5 * priced["upward"])
    supra_penalty = 0.5 * params.eta_ux * budget * priced["supra"]
    return {
        "revenue": proxy_revenue,
        **extra,
        "budget": budget,
        "profit": profit,
        "agent_prob": f,
        "coi_leak": coi_leak,
        "coi_penalty": coi_penalty,
        "ux_penalty": ux_penalty,
        "supra_penalty": supra_penalty,
        "reward": params.w_profit * profit - coi_penalty - ux_penalty - supra_penalty,
    }


def initial_state(xp: Any, prices: Any, market: Market, params: StepParams) -> tuple[PricingState, Any]:
    """State after reset: prices p_0 and one market draw at alpha0.

    Returns ``(state, sampled_states)``.
    """
    alpha0 = xp.reshape(xp.asarray(params.alpha0), (1,))
    q, f, n_states, _ = market.sample(market.demand(prices), alpha0)
    zero = xp.zeros((), dtype=xp.int32)
    state = PricingState(prices, q[0], f[0], xp.asarray(params.alpha0, dtype=q.dtype), zero, zero)
    return state, n_states.sum()


def robust_step(
    xp: Any,
    state: PricingState,
    action: Any,
    params: StepParams,
    market: Market,
    candidates: Candidates,
    adversary: str = "sampled",
    reward_on: str = "proxy",
) -> tuple[PricingState, Any, Any, Any, dict[str, Any]]:
    """One step of the PHANTOM defensive pricing loop.

    1. p_t = clip(p_{t-1} * scale[action], p_low, p_high); true demand drawn once;
    2. ``adversary = "sampled"``: one market draw per candidate share, k* = argmin_k r^(k), the
       state keeps candidate k*'s own q and f (erratum 4); ``"closed_form"``: k* = argmin of
       :func:`closed_form_rewards`, then one market draw at alpha_k* at the same true demand,
       rewarded with the full reward (Model reference, section 10);
    3. terminated after ``patience`` consecutive steps with margin < margin_floor; truncated at
       ``max_steps`` (a time limit, erratum 7) unless terminated.

    Args:
        action: index into ``params.scales`` (the caller keeps it in range).
        market: the follower (:class:`Market`). candidates: the shares scored (:class:`Candidates`).
        adversary: one of :data:`ADVERSARIES` (static: it changes the shapes drawn).
        reward_on: one of :data:`REWARD_BASES` (static): the reward on the proxy or on the
            units sold (:func:`reward_terms`; the sampled candidates are ranked by that reward).

    Returns:
        ``(state, reward, terminated, truncated, info)``; info holds the kept sample's reward
        terms (among them revenue = proxy_revenue, sales_revenue and units_sold), its ``sales``
        (N,: units bought per product), ``alpha_adv``, ``zero_demand`` (1.0 when every product's true demand is zero for
        both classes, the step's prices above every valuation; else 0.0), ``candidate`` (k*), ``candidate_rewards``
        (K,: the sampled rewards,
        or the closed-form scores; +inf where a candidate is not active) and ``sampled_states``
        (session states drawn in the step).
    """
    prices = xp.minimum(xp.maximum(state.prices * params.scales[action], params.p_low), params.p_high)  # clip
    demand = market.demand(prices)
    priced = price_terms(xp, prices, state.prices, params)
    alphas = candidates.alphas
    if adversary == "closed_form":
        scores = closed_form_rewards(xp, prices, demand, alphas, params)
        if candidates.active is not None:
            scores = xp.where(candidates.active, scores, xp.inf)
        k = xp.argmin(scores)
        q, f, n_states, sales = market.sample(demand, xp.reshape(alphas[k], (1,)))
        terms = reward_terms(xp, prices, q, f, priced, params, sales, reward_on)
        kept = 0
    else:
        q, f, n_states, sales = market.sample(demand, alphas)
        terms = reward_terms(xp, prices, q, f, priced, params, sales, reward_on)
        scores = terms["reward"]
        if candidates.active is not None:
            scores = xp.where(candidates.active, scores, xp.inf)
        k = kept = xp.argmin(scores)
    low_margin = ((state.low_margin + 1) * (priced["margin"] < params.margin_floor)).astype(xp.int32)
    t = (state.t + 1).astype(xp.int32)
    terminated = low_margin >= params.patience
    truncated = xp.logical_and(t >= params.max_steps, xp.logical_not(terminated))
    alpha_adv = xp.asarray(alphas, dtype=q.dtype)[k]
    info = {name: value[kept] for name, value in terms.items()}
    info.update(priced)
    info.update(
        sales=sales[kept],
        alpha_adv=alpha_adv,
        zero_demand=xp.asarray(demand.sum() == 0, dtype=q.dtype),
        candidate=k,
        candidate_rewards=scores,
        sampled_states=n_states.sum(),
    )
    new_state = PricingState(prices, q[kept], f[kept], alpha_adv, t, low_margin)
    return new_state, terms["reward"][kept], terminated, truncated, info


def observe(xp: Any, state: PricingState, params: StepParams) -> Any:
    """Observation [q (N), p (N), f_last, alpha_adv_last, alpha0, eps_alpha], float32, length 2N+4."""
    tail = xp.array([state.f, state.alpha_adv, params.alpha0, params.eps_alpha], dtype=xp.float32)
    return xp.concatenate([state.q.astype(xp.float32), state.prices.astype(xp.float32), tail])
