"""Value-based learners in pure JAX: DQN and the tabular Q-learner (Model reference, section 7).

* DQN follows stable-baselines3's defaults: Q-MLP [64, 64] with ReLU, Adam (lr 1e-4) with the
  gradient norm clipped at 10, Huber loss, one gradient step every ``train_freq`` = 4 env steps
  once more than ``learning_starts`` steps were taken (random actions before), a hard target
  update every ``target_update_interval`` env steps, epsilon linear from 1 to its final value
  over ``exploration_fraction`` of the budget, uniform replay sampling with replacement. The
  buffer holds min(buffer_size, steps taken) transitions: when the budget fits in the
  reference buffer it never wraps, exactly as SB3's larger buffer would not. Time limits
  bootstrap (``done`` = terminated). Where its time goes: the gradient step (256 transitions
  through the online and target networks every 4 steps, 64 sample-gradients per env step against
  PPO's 10) took 97 % of a DQN step at the study's shapes on a null env (121 of 124 us per
  trial-step; replay writes, sampling, target syncs and action choice the other 3 %), at about
  half the core's matmul rate on these small layers; so DQN costs what its definition costs. No
  gradient is computed during the warm-up (``learning_starts``), a branch that vmap keeps.
* The Q-learner is :class:`~phantom_lib.study.sb3.qlearning.TabularQLearner` in JAX: TD(0), epsilon
  decaying geometrically per step to its floor, random tie-breaking while learning, greedy
  (lowest index) actions in evaluation, on any traceable featuriser (the study uses
  :meth:`~phantom_lib.study.common.DigitisedFeatures.index`).

Each ``train_*`` is one traceable function of (key, params) for a static config: the study vmaps
it over a batch of trials (:mod:`phantom_lib.study.jax.engine`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import optax

from phantom_lib._validation import InstanceOf, Integer, IsCallable, Real, Validated
from phantom_lib.study.common import QLearnerConfig
from phantom_lib.study.jax.view import (
    BudgetConfig,
    LearnerEnv,
    ViewParams,
    mlp_apply,
    mlp_init,
)


@dataclass(frozen=True)
class DQNConfig(BudgetConfig):
    """DQN settings (Model reference, section 7; SB3 defaults for the rest)."""

    ALGORITHM: ClassVar[str] = "dqn"
    learning_rate: float = 1e-4
    buffer_size: int = 50_000
    batch_size: int = 256
    learning_starts: int = 1000
    target_update_interval: int = 1000
    exploration_fraction: float = 0.2
    exploration_initial_eps: float = 1.0
    exploration_final_eps: float = 0.05
    train_freq: int = 4
    max_grad_norm: float = 10.0
    _parameter_constraints = {
        "learning_rate": (Real(low=0, low_open=True),),
        "buffer_size": (Integer(low=1),),
        "batch_size": (Integer(low=1),),
        "learning_starts": (Integer(low=0),),
        "target_update_interval": (Integer(low=1),),
        "exploration_fraction": (Real(low=0, high=1),),
        "exploration_initial_eps": (Real(low=0, high=1),),
        "exploration_final_eps": (Real(low=0, high=1),),
        "train_freq": (Integer(low=1),),
        "max_grad_norm": (Real(low=0, low_open=True),),
    }

    @property
    def n_chunks(self) -> int:
        """Collections of ``train_freq`` steps: ceil(timesteps / train_freq) (SB3 finishes its last one)."""
        return math.ceil(self.timesteps / self.train_freq)

    @property
    def capacity(self) -> int:
        """Replay buffer length: min(buffer_size, steps taken)."""
        return min(self.buffer_size, self.n_chunks * self.train_freq)


class Replay(NamedTuple):
    """A ring buffer of transitions, leading axis the capacity."""

    obs: Any
    next_obs: Any
    action: Any
    reward: Any
    terminated: Any


def _q(net: Any, obs: Any) -> Any:
    return mlp_apply(net, obs, jax.nn.relu)


def dqn_loss(net: Any, target: Any, batch: Replay, gamma: float) -> Any:
    """Huber loss between Q(s, a) and r + gamma * (1 - terminated) * max_a' Q_target(s', a')."""
    q = jnp.take_along_axis(_q(net, batch.obs), batch.action[:, None], -1)[:, 0]
    best_next = _q(target, batch.next_obs).max(-1)
    y = jax.lax.stop_gradient(batch.reward + gamma * (1.0 - batch.terminated) * best_next)
    return optax.huber_loss(q, y, delta=1.0).mean()


def train_dqn(env: LearnerEnv, cfg: DQNConfig, key: Any, params: ViewParams) -> tuple[Any, tuple[Any, Any]]:
    """Train DQN for ``cfg.n_chunks * cfg.train_freq`` steps; returns the Q-network and the per-step log."""
    key, key_init, key_reset = jax.random.split(key, 3)
    obs, state = env.reset(key_reset, params)
    gains = (math.sqrt(2),) * len(cfg.hidden) + (1.0,)
    net = mlp_init(key_init, (obs.shape[-1], *cfg.hidden, cfg.n_actions), gains)
    optimiser = optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), optax.adam(cfg.learning_rate))
    size = cfg.capacity
    buffer = Replay(jnp.zeros((size, obs.shape[-1])), jnp.zeros((size, obs.shape[-1])),
                    jnp.zeros(size, jnp.int32), jnp.zeros(size), jnp.zeros(size))
    decay_steps = cfg.exploration_fraction * cfg.timesteps

    def epsilon(t: Any) -> Any:
        progress = t / decay_steps if decay_steps > 0 else jnp.inf
        span = cfg.exploration_final_eps - cfg.exploration_initial_eps
        return jnp.where(progress > 1, cfg.exploration_final_eps, cfg.exploration_initial_eps + progress * span)

    def env_step(net: Any, carry: Any, key: Any) -> tuple[Any, Any]:
        obs, state, buffer, t, sync = carry
        key_explore, key_action, key_env = jax.random.split(key, 3)
        explore = jnp.logical_or(t < cfg.learning_starts, jax.random.uniform(key_explore) < epsilon(t))
        action = jnp.where(explore, jax.random.randint(key_action, (), 0, cfg.n_actions), jnp.argmax(_q(net, obs)))
        tr = env.auto_step(key_env, state, action, params)
        slot = t % size
        buffer = Replay(buffer.obs.at[slot].set(obs), buffer.next_obs.at[slot].set(tr.final_obs),
                        buffer.action.at[slot].set(action), buffer.reward.at[slot].set(tr.reward),
                        buffer.terminated.at[slot].set(tr.terminated.astype(jnp.float32)))
        sync = jnp.logical_or(sync, (t + 1) % cfg.target_update_interval == 0)
        return (tr.obs, tr.state, buffer, t + 1, sync), (tr.raw_reward, tr.revenue)

    def chunk(carry: Any, key: Any) -> tuple[Any, Any]:
        net, target, opt_state, obs, state, buffer, t = carry
        key_steps, key_batch = jax.random.split(key)
        (obs, state, buffer, t, sync), log = jax.lax.scan(
            lambda c, k: env_step(net, c, k), (obs, state, buffer, t, jnp.array(False)),
            jax.random.split(key_steps, cfg.train_freq))
        target = jax.tree.map(lambda a, b: jnp.where(sync, a, b), net, target)

        def learn(net: Any, opt_state: Any) -> tuple[Any, Any]:
            rows = jax.random.randint(key_batch, (cfg.batch_size,), 0, jnp.minimum(t, size))
            grads = jax.grad(dqn_loss)(net, target, jax.tree.map(lambda x: x[rows], buffer), cfg.gamma)
            updates, opt_state = optimiser.update(grads, opt_state, net)
            return optax.apply_updates(net, updates), opt_state

        # t is the same in every trial of a vmapped batch (not batched), so this stays a branch
        # under vmap: no gradient is computed during the warm-up (it was computed and discarded)
        net, opt_state = jax.lax.cond(t > cfg.learning_starts, learn, lambda *a: a, net, opt_state)
        return (net, target, opt_state, obs, state, buffer, t), log

    init = (net, net, optimiser.init(net), obs, state, buffer, jnp.zeros((), jnp.int32))
    carry, (raw, revenue) = jax.lax.scan(chunk, init, jax.random.split(key, cfg.n_chunks))
    return carry[0], (raw.reshape(-1), revenue.reshape(-1))


def act_dqn(net: Any, obs: Any) -> Any:
    """Deterministic DQN action: the greedy one."""
    return jnp.argmax(_q(net, obs), axis=-1)


@dataclass(frozen=True)
class QTableConfig(Validated):
    """The tabular Q-learner's shapes and settings (:class:`QLearnerConfig`). Hashable: static under jit.

    Attributes:
        timesteps: env steps. n_actions: actions. n_states: featuriser states.
        featurise: ``(obs) -> state index`` (traceable; e.g. :meth:`DigitisedFeatures.index` bound to jnp).
        settings: learning rate, gamma and the epsilon schedule.
    """

    timesteps: int
    n_actions: int
    n_states: int
    featurise: Callable[[Any], Any]
    settings: QLearnerConfig = field(default_factory=QLearnerConfig)
    _parameter_constraints = {
        "timesteps": (Integer(low=1),), "n_actions": (Integer(low=1),), "n_states": (Integer(low=1),),
        "featurise": (IsCallable(),), "settings": (InstanceOf(QLearnerConfig, "a QLearnerConfig"),),
    }


def train_qtable(env: LearnerEnv, cfg: QTableConfig, key: Any, params: ViewParams) -> tuple[Any, tuple[Any, Any]]:
    """TD(0) Q-learning for ``cfg.timesteps`` steps; returns the Q-table (n_states, n_actions) and the log."""
    s = cfg.settings
    key, key_reset = jax.random.split(key)
    obs, state = env.reset(key_reset, params)

    def step(carry: Any, key: Any) -> tuple[Any, Any]:
        table, obs, state, eps = carry
        key_explore, key_action, key_tie, key_env = jax.random.split(key, 4)
        here = cfg.featurise(obs)
        row = table[here]
        ties = jnp.where(row == row.max(), jax.random.uniform(key_tie, row.shape), -1.0)
        explore = jax.random.uniform(key_explore) < eps
        action = jnp.where(explore, jax.random.randint(key_action, (), 0, cfg.n_actions), jnp.argmax(ties))
        tr = env.auto_step(key_env, state, action, params)
        best_next = table[cfg.featurise(tr.final_obs)].max()
        target = tr.reward + jnp.where(tr.terminated, 0.0, s.gamma * best_next)
        table = table.at[here, action].add(s.learning_rate * (target - table[here, action]))
        eps = jnp.maximum(s.epsilon_end, eps * s.epsilon_decay)
        return (table, tr.obs, tr.state, eps), (tr.raw_reward, tr.revenue)

    init = (jnp.zeros((cfg.n_states, cfg.n_actions)), obs, state, jnp.asarray(s.epsilon_start, jnp.float32))
    (table, *_), log = jax.lax.scan(step, init, jax.random.split(key, cfg.timesteps))
    return table, log


def qtable_actor(featurise: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    """Deterministic Q-table action (the lowest-index greedy one, as :meth:`TabularQLearner.predict`)."""

    def act(table: Any, obs: Any) -> Any:
        return jnp.argmax(table[featurise(obs)], axis=-1)

    return act
