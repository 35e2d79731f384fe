"""What a pure-JAX learner sees of a functional pricing env, and the networks it learns with.

:class:`LearnerEnv` wraps a functional env (``reset``/``step`` of :mod:`phantom_lib.sim.jax_env`'s
API) the way the SB3 path wraps its gymnasium env: observations rescaled to [0, 1] by the
observation space's bounds (``unit_box``; the Q-learner reads raw observations, as in the SB3
path), rewards multiplied by the trial's ``reward_scale``, and an auto-reset after every ending
(terminated or truncated; the functional env never resets itself). Its reset goes through a
batching rule (:func:`_reset_where`) so a vmapped batch of learners resets only at the steps
where some episode ends, not at every step.

Networks are plain lists of dense layers (:func:`mlp_init`, :func:`mlp_apply`). SB3 initialises
them orthogonally (gains sqrt(2) for hidden layers, 0.01 for a policy head, 1 for value heads);
``jax.nn.initializers.orthogonal`` (a batched QR) can deadlock jaxlib 0.10.2's CPU thread pool
inside a vmapped jit, so weights here are truncated-normal, scaled like Glorot (variance
gain^2 / mean(fan_in, fan_out)) with the same gains; biases are zero.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap

from phantom_lib._validation import Each, Integer, Real, Validated
from phantom_lib.study.common import sb3_hyperparameters


@dataclass(frozen=True)
class BudgetConfig(Validated):
    """Base of the learner configs: a training budget and an action count (hashable, so a config is
    a static part of a compiled program).

    Attributes:
        timesteps: training budget, env steps. n_actions: discrete actions.
        gamma: discount factor. hidden: widths of the hidden layers ([64, 64], Model reference, section 7).
    """

    timesteps: int
    n_actions: int
    gamma: float = 0.99
    hidden: tuple[int, ...] = (64, 64)
    ALGORITHM: ClassVar[str] = ""
    _parameter_constraints = {"timesteps": (Integer(low=1),), "n_actions": (Integer(low=1),),
                              "gamma": (Real(low=0, high=1),), "hidden": (Each(Integer(low=1)),)}

    @classmethod
    def for_budget(cls, timesteps: int, n_actions: int, **overrides: Any) -> Any:
        """The reference settings with the step counts of :func:`~phantom_lib.study.common.sb3_hyperparameters`
        scaled to ``timesteps`` (the SB3 path's scaling), then ``overrides``."""
        return cls(timesteps, n_actions, **{**sb3_hyperparameters(cls.ALGORITHM, timesteps), **overrides})


class ViewParams(NamedTuple):
    """Numbers of a :class:`LearnerEnv`: the wrapped env's params, observation bounds (obs_dim,)
    and the reward scale (learners see reward * reward_scale)."""

    env: Any
    low: Any
    high: Any
    reward_scale: Any


class Transition(NamedTuple):
    """One auto-reset step as a learner sees it.

    Attributes:
        obs: the next observation (a reset's when the episode ended), learner view.
        final_obs: the step's own next observation (before any reset), learner view.
        state: the env state to continue from. reward: scaled reward.
        terminated, truncated: the step's flags. raw_reward, revenue: env units (learning curves).
    """

    obs: Any
    final_obs: Any
    state: Any
    reward: Any
    terminated: Any
    truncated: Any
    raw_reward: Any
    revenue: Any


@dataclass(frozen=True)
class LearnerEnv:
    """A functional env (``reset``/``step`` of :mod:`phantom_lib.sim.jax_env`'s API) as a learner sees it.

    Attributes:
        env: the functional env (static, hashable). unit_obs: rescale observations to [0, 1]
            by :attr:`ViewParams.low`/``high`` (SB3's ``unit_box``); False: raw observations.
    """

    env: Any
    unit_obs: bool = True

    def view(self, obs: Any, params: ViewParams) -> Any:
        """The observation a learner sees, float32 (obs_dim,)."""
        if not self.unit_obs:
            return obs
        return ((obs - params.low) / (params.high - params.low)).astype(jnp.float32)

    def reset(self, key: Any, params: ViewParams) -> tuple[Any, Any]:
        """``(observation (learner view), state)`` of a new episode."""
        obs, state = self.env.reset(key, params.env)
        return self.view(obs, params), state

    def step(self, key: Any, state: Any, action: Any, params: ViewParams) -> tuple[Any, ...]:
        """The env's ``(obs, state, reward, terminated, truncated, info)``, observation in the learner's
        view, reward in env units."""
        obs, new, reward, terminated, truncated, info = self.env.step(key, state, action, params.env)
        return self.view(obs, params), new, reward, terminated, truncated, info

    def auto_step(self, key: Any, state: Any, action: Any, params: ViewParams) -> Transition:
        """Step, and reset with a fresh key when the episode ends (terminated or truncated).

        The reset goes through :func:`_reset_where`: under ``vmap`` it is computed only at steps
        where some trial of the batch ends an episode (trials of a slice truncate together),
        instead of at every step as a vmapped ``where`` would; results are the same.
        """
        key_step, key_reset = jax.random.split(key)
        obs, new, reward, terminated, truncated, info = self.step(key_step, state, action, params)
        done = jnp.logical_or(terminated, truncated)
        next_obs, next_state = _reset_where(self)(done, key_reset, params, obs, new)
        return Transition(next_obs, obs, next_state, reward * params.reward_scale, terminated, truncated,
                          reward, info["revenue"])


@functools.cache
def _reset_where(env: LearnerEnv) -> Callable[..., tuple[Any, Any]]:
    """``(done, key, params, obs, state) -> (obs, state)`` of a new episode where ``done``, else unchanged.

    Unbatched, a ``lax.cond``. Its batching rule (``custom_vmap``) computes the batch's resets only
    when any trial is done (one ``lax.cond`` on ``any(done)``) and selects them per trial; each
    trial's reset uses its own key, so its numbers do not depend on the rest of the batch.
    """

    def reset_where(done: Any, key: Any, params: ViewParams, obs: Any, state: Any) -> tuple[Any, Any]:
        return jax.lax.cond(done, lambda: env.reset(key, params), lambda: (obs, state))

    batched_reset = custom_vmap(reset_where)

    @batched_reset.def_vmap
    def rule(size: int, in_batched: list[Any], done: Any, key: Any, params: ViewParams, obs: Any,
             state: Any) -> tuple[Any, Any]:
        done_b, key_b, params_b, obs_b, state_b = in_batched

        def batch(tree: Any, batched: Any) -> Any:
            return jax.tree.map(lambda x, b: x if b else jnp.broadcast_to(x, (size, *jnp.shape(x))), tree, batched)

        done, current = batch(done, done_b), batch((obs, state), (obs_b, state_b))

        def fresh() -> Any:
            axes = jax.tree.map(lambda b: 0 if b else None, (key_b, params_b))
            new = jax.vmap(env.reset, in_axes=axes, axis_size=size)(key, params)
            return jax.tree.map(lambda a, b: jnp.where(done.reshape((size,) + (1,) * (a.ndim - 1)), a, b), new, current)

        out = jax.lax.cond(jnp.any(done), fresh, lambda: current)
        return out, jax.tree.map(lambda _: True, out)

    return batched_reset


def mlp_init(key: Any, sizes: Sequence[int], gains: Sequence[float]) -> list[tuple[Any, Any]]:
    """Dense layers ``sizes[i] -> sizes[i+1]``: weights truncated-normal with variance
    gain^2 / mean(fan_in, fan_out) (Glorot scaled by the layer's gain), zero biases."""
    layers = []
    for layer_key, n_in, n_out, gain in zip(jax.random.split(key, len(gains)), sizes[:-1], sizes[1:], gains):
        init = jax.nn.initializers.variance_scaling(gain**2, "fan_avg", "truncated_normal")
        layers.append((init(layer_key, (n_in, n_out), jnp.float32), jnp.zeros(n_out, jnp.float32)))
    return layers


def mlp_apply(layers: list[tuple[Any, Any]], x: Any, activation: Callable[[Any], Any]) -> Any:
    """The MLP's output for input x (..., sizes[0]); ``activation`` between layers, none at the end."""
    for i, (w, b) in enumerate(layers):
        x = x @ w + b
        if i < len(layers) - 1:
            x = activation(x)
    return x
