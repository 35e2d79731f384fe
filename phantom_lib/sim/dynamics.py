"""The pure step code of the pricing environment, shared by every backend (Model reference, section 6).

Written once over an array namespace ``xp`` (numpy or jax.numpy): the numpy-backed gymnasium
adapter (:mod:`phantom_lib.sim.gym_env`) and the jit-compiled functional env
(:mod:`phantom_lib.sim.jax_env`) both call these functions and never each other.

* :func:`robust_step`: new prices, K candidate market draws, reward terms, the worst candidate
  (keeping its own sample, erratum 4), margin-floor termination and max-steps truncation
  (erratum 7);
* :func:`observe`: the float32 observation [q (N), p (N), f_last, alpha_adv_last, alpha0, eps_alpha].

Parameters and state are values (:class:`StepParams`, :class:`PricingState`: named tuples, so
pytrees under jax); the market draw comes in as a function (:data:`SampleFn`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

SCALE_RANGE = (0.8, 1.2)
"""Price multipliers of the lowest and highest action."""

ANCHOR_MARKUP = 1.2
"""The supra-competitive anchor is clip(ANCHOR_MARKUP * mu_H, p_low, p_high)."""


class StepParams(NamedTuple):
    """Numbers of one environment configuration (a pytree: numpy or jax leaves)."""

    scales: Any
    alphas: Any
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


SampleFn = Callable[[Any], tuple[Any, Any, Any]]
"""prices (N,) -> (q (K, N), f (K,), sampled states (K,)) for the K candidate shares."""


def price_terms(xp: Any, prices: Any, prev_prices: Any, params: StepParams) -> dict[str, Any]:
    """Terms that depend on prices only: relative change, volatility, supra-competitive share."""
    n = prices.shape[-1]  # means as sums / n: numpy's mean costs twice a sum on (N,) arrays
    rel = (prices - prev_prices) / xp.maximum(prev_prices, 1.0)
    mean_price = prices.sum() / n
    return {
        "volatility": xp.abs(rel).sum() / n,
        "upward": xp.maximum(rel, 0.0).sum() / n,
        "supra": (xp.maximum(prices / params.anchor - 1.0, 0.0) ** 2).sum() / n,
        "supra_share": (prices > params.anchor).sum() / n,
        "coi_level": mean_price - params.p_low,
        "margin": (mean_price - params.p_low) / mean_price,
    }


def reward_terms(xp: Any, prices: Any, q: Any, f: Any, priced: dict[str, Any], params: StepParams) -> dict[str, Any]:
    """Reward and its terms for each candidate (MODEL.md section 6).

    Args:
        prices: p_t, shape (N,). q: proxies, shape (K, N). f: agent probabilities, shape (K,).
        priced: :func:`price_terms` of this step.

    Returns:
        arrays of shape (K,): revenue p.q, budget B = max(p_low * S, 1), profit, coi_leak,
        coi_penalty, ux_penalty, supra_penalty and reward
        r = w_profit * profit - coi_penalty - ux_penalty - supra_penalty.
    """
    total = q.sum(axis=-1)
    budget = xp.maximum(params.p_low * total, 1.0)
    revenue = q @ prices
    profit = revenue - params.p_low * total
    coi_leak = f * params.info_value
    coi_penalty = params.lambda_coi * coi_leak * budget
    ux_penalty = params.eta_ux * budget * (priced["volatility"] + 0.5 * priced["upward"])
    supra_penalty = 0.5 * params.eta_ux * budget * priced["supra"]
    return {
        "revenue": revenue,
        "budget": budget,
        "profit": profit,
        "agent_prob": f,
        "coi_leak": coi_leak,
        "coi_penalty": coi_penalty,
        "ux_penalty": ux_penalty,
        "supra_penalty": supra_penalty,
        "reward": params.w_profit * profit - coi_penalty - ux_penalty - supra_penalty,
    }


def initial_state(xp: Any, prices: Any, sample0: SampleFn, params: StepParams) -> tuple[PricingState, Any]:
    """State after reset: prices p_0 and one market draw at alpha0 (``sample0`` has K = 1).

    Returns ``(state, sampled_states)``.
    """
    q, f, n_states = sample0(prices)
    zero = xp.zeros((), dtype=xp.int32)
    state = PricingState(prices, q[0], f[0], xp.asarray(params.alpha0, dtype=q.dtype), zero, zero)
    return state, n_states.sum()


def robust_step(
    xp: Any, state: PricingState, action: Any, params: StepParams, sample: SampleFn
) -> tuple[PricingState, Any, Any, Any, dict[str, Any]]:
    """One step of the PHANTOM defensive pricing loop.

    1. p_t = clip(p_{t-1} * scale[action], p_low, p_high);
    2. one market draw per candidate share (``sample``);
    3. k* = argmin_k r^(k); the state keeps candidate k*'s own q and f (erratum 4);
    4. terminated after ``patience`` consecutive steps with margin < margin_floor; truncated at
       ``max_steps`` (a time limit, erratum 7) unless terminated.

    Returns:
        ``(state, reward, terminated, truncated, info)``; info holds the chosen candidate's
        terms, ``alpha_adv``, ``candidate`` (k*), ``candidate_rewards`` (K,) and
        ``sampled_states`` (session states drawn over all candidates).
    """
    prices = xp.clip(state.prices * params.scales[action], params.p_low, params.p_high)
    q, f, n_states = sample(prices)
    priced = price_terms(xp, prices, state.prices, params)
    terms = reward_terms(xp, prices, q, f, priced, params)
    k = xp.argmin(terms["reward"])
    low_margin = xp.where(priced["margin"] < params.margin_floor, state.low_margin + 1, 0).astype(xp.int32)
    t = (state.t + 1).astype(xp.int32)
    terminated = low_margin >= params.patience
    truncated = xp.logical_and(t >= params.max_steps, xp.logical_not(terminated))
    alpha_adv = xp.asarray(params.alphas, dtype=q.dtype)[k]
    info = {name: value[k] for name, value in terms.items()}
    info.update(priced)
    info.update(
        alpha_adv=alpha_adv,
        candidate=k,
        candidate_rewards=terms["reward"],
        sampled_states=n_states.sum(),
    )
    new_state = PricingState(prices, q[k], f[k], alpha_adv, t, low_margin)
    return new_state, terms["reward"][k], terminated, truncated, info


def observe(xp: Any, state: PricingState, params: StepParams) -> Any:
    """Observation [q (N), p (N), f_last, alpha_adv_last, alpha0, eps_alpha], float32, length 2N+4."""
    tail = xp.stack([xp.asarray(v, dtype=xp.float32) for v in (state.f, state.alpha_adv, params.alpha0, params.eps_alpha)])
    return xp.concatenate([state.q.astype(xp.float32), state.prices.astype(xp.float32), tail])
