"""A tiny deterministic MDP with the functional env API of :mod:`phantom_lib.sim.jax_env`.

Three states in a row, two actions, episodes of ``HORIZON`` steps (truncated) from state 0:

* state 0: action 0 earns ``STAY`` and stays; action 1 earns 0 and moves to state 1;
* state 1: action 0 earns 0 and goes back to 0; action 1 earns 0 and moves to state 2;
* state 2: action 0 earns ``GOAL`` and stays; action 1 earns 0 and goes back to 0.

The observation is one-hot(state) (bounds [0, 1]); ``info`` carries the step's reward and
revenue (= reward) and zeros for the other evaluation metrics.

Closed form (discounted, time limits bootstrapped like every learner here): with the policy
"move right, then hold state 2", V(2) = GOAL / (1 - gamma), V(1) = gamma V(2), V(0) = gamma^2 V(2), so
Q(0, 0) = STAY + gamma V(0), Q(0, 1) = V(0), Q(1, 0) = gamma V(0), Q(1, 1) = V(1),
Q(2, 0) = V(2), Q(2, 1) = gamma V(0). With GAMMA = 0.9, STAY = 0.5 and GOAL = 2 the greedy
actions are (1, 1, 0): non-myopic in state 0 (the myopic choice, action 0, earns more now).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from phantom_lib.study.common import EVAL_METRICS

GAMMA, STAY, GOAL, HORIZON = 0.9, 0.5, 2.0, 10
NEXT = np.array([[0, 1], [0, 2], [2, 0]])
REWARD = np.array([[STAY, 0.0], [0.0, 0.0], [GOAL, 0.0]])


def closed_form_q(gamma: float = GAMMA) -> np.ndarray:
    """Q* of the MDP (3, 2) for the policy (1, 1, 0), from the formulas in the module docstring."""
    v2 = GOAL / (1 - gamma)
    v1, v0 = gamma * v2, gamma**2 * v2
    return np.array([[STAY + gamma * v0, v0], [gamma * v0, v1], [v2, gamma * v0]])


def optimal_return(horizon: int = HORIZON) -> float:
    """Undiscounted return of the optimal policy over one episode: two moves, then GOAL per step."""
    return GOAL * (horizon - 2)


class TinyState(NamedTuple):
    s: Any
    t: Any


class TinyParams(NamedTuple):
    next_state: Any
    reward: Any
    horizon: Any


@dataclass(frozen=True)
class TinyEnv:
    """The MDP above, pure functions of (key, state, action, params); keys are unused (deterministic)."""

    def params(self) -> TinyParams:
        return TinyParams(jnp.asarray(NEXT), jnp.asarray(REWARD, jnp.float32), jnp.asarray(HORIZON))

    def reset(self, key: Any, params: TinyParams) -> tuple[Any, TinyState]:
        state = TinyState(jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))
        return jnp.eye(3, dtype=jnp.float32)[state.s], state

    def step(self, key: Any, state: TinyState, action: Any, params: TinyParams) -> tuple[Any, ...]:
        reward = params.reward[state.s, action]
        new = TinyState(params.next_state[state.s, action].astype(jnp.int32), state.t + 1)
        truncated = new.t >= params.horizon
        info = {name: jnp.zeros(()) for name in EVAL_METRICS}
        info.update(reward=reward, revenue=reward)
        return jnp.eye(3, dtype=jnp.float32)[new.s], new, reward, jnp.zeros((), bool), truncated, info


def one_hot_state(obs: Any) -> Any:
    """The Q-learner's featuriser on this MDP: the state index."""
    return jnp.argmax(obs, axis=-1)
