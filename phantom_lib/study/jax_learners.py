"""The study's learners in pure JAX: PPO, DQN and the tabular Q-learner (Model reference, section 7).

Each learner's whole training loop is one function ``train(key, params) -> (policy, log)`` of
traceable values, built for static shapes (:class:`LearnerEnv`, a config of Python numbers):
``jax.jit(jax.vmap(train))`` trains a batch of learners (seeds, and environments that differ in
alpha0, eps_alpha and lambda_coi) in one compiled program (:mod:`phantom_lib.study.jax_engine`
builds the batches). ``act(policy, obs)`` is the deterministic action used in evaluation.

Why this implementation. A compact PureJaxRL-style PPO and DQN of our own on jax + optax: on
this machine such a PPO trained as fast as rejax's (81k-123k env steps/s on a toy pricing env),
with no other dependency, while rejax works only with an old gymnax pinned and a tfp nightly
(~390 MB), evaluates more than it trains by default and samples its DQN replay slowly. Our own
code also lets every setting follow stable-baselines3, so the two engines train the same
algorithm (cross-checked in chapter 06):

* the observation is rescaled to [0, 1] by the observation space's bounds (SB3's ``unit_box``;
  the Q-learner digitises the raw observation, as in the SB3 path), rewards are multiplied by
  the trial's ``reward_scale``, and time limits bootstrap (erratum 7): PPO adds
  gamma * V(final observation) to a truncated step's reward, DQN and the Q-learner store
  ``done = terminated``;
* one environment per learner, as in the SB3 path (no parallel envs inside a learner: the batch
  of learners is the parallelism), auto-reset after every ending;
* PPO (SB3 defaults): separate actor and critic MLPs [64, 64] with tanh, Adam (eps 1e-5) with
  gradient norm clipped at 0.5, value coefficient 0.5, advantages normalised per minibatch
  (unbiased std), GAE over the rollout with SB3's ``episode_start`` masks, ceil(T / n_steps)
  rollouts of n_steps;
* DQN (SB3 defaults): Q-MLP [64, 64] with ReLU, Adam (lr 1e-4) with norm clipping at 10, Huber
  loss, one gradient step every 4 env steps once more than ``learning_starts`` steps were taken
  (random actions before), a hard target update every ``target_update_interval`` env steps,
  epsilon linear from 1 to the final value over ``exploration_fraction`` of the budget, uniform
  replay sampling with replacement from a buffer of min(buffer_size, budget) transitions (the
  same transitions as the SB3 buffer: it never wraps within the budget when it is that large);
* the Q-learner: :class:`~phantom_lib.study.qlearning.TabularQLearner`'s TD(0) update,
  epsilon schedule and random tie-breaking, on :meth:`DigitisedFeatures.index`.

Step-count hyperparameters come from :func:`phantom_lib.study.learners.sb3_hyperparameters` (the
Model reference values, scaled down for small budgets exactly as the SB3 path does).

Initialisation: SB3 uses orthogonal init (gains sqrt(2), 0.01 for the policy head, 1 for the
value head). ``jax.nn.initializers.orthogonal`` (a batched QR) can deadlock jaxlib 0.10.2's CPU
thread pool inside a vmapped jit, so weights are drawn from a truncated normal scaled like
Glorot (variance gain^2 / mean(fan_in, fan_out)) with the same gains; biases are zero.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.custom_batching import custom_vmap

from phantom_lib.study.learners import sb3_hyperparameters
from phantom_lib.study.qlearning import QLearnerConfig

Policy = Any
"""A learner's trained parameters (a pytree)."""


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


@functools.lru_cache(maxsize=None)
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

    return batched_reset  # type: ignore[no-any-return]


# --- networks ------------------------------------------------------------------------------------


def mlp_init(key: Any, sizes: Sequence[int], gains: Sequence[float]) -> list[tuple[Any, Any]]:
    """Dense layers ``sizes[i] -> sizes[i+1]``: weights truncated-normal with variance
    gain^2 / mean(fan_in, fan_out) (Glorot scaled by the layer's gain), zero biases."""
    layers = []
    for key, n_in, n_out, gain in zip(jax.random.split(key, len(gains)), sizes[:-1], sizes[1:], gains):
        init = jax.nn.initializers.variance_scaling(gain**2, "fan_avg", "truncated_normal")
        layers.append((init(key, (n_in, n_out), jnp.float32), jnp.zeros(n_out, jnp.float32)))
    return layers


def mlp_apply(layers: list[tuple[Any, Any]], x: Any, activation: Callable[[Any], Any]) -> Any:
    """The MLP's output for input x (..., sizes[0]); ``activation`` between layers, none at the end."""
    for i, (w, b) in enumerate(layers):
        x = x @ w + b
        if i < len(layers) - 1:
            x = activation(x)
    return x


# --- PPO -----------------------------------------------------------------------------------------


class PPOConfig(NamedTuple):
    """PPO settings (Model reference, section 7; SB3 defaults for the rest). Hashable: static under jit."""

    timesteps: int
    n_actions: int
    learning_rate: float = 3e-4
    gamma: float = 0.99
    n_steps: int = 2048
    batch_size: int = 256
    n_epochs: int = 10
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden: tuple[int, ...] = (64, 64)

    @classmethod
    def for_budget(cls, timesteps: int, n_actions: int, **overrides: Any) -> PPOConfig:
        """The reference settings with step counts scaled to ``timesteps`` like the SB3 path."""
        return cls(timesteps, n_actions, **{**sb3_hyperparameters("ppo", timesteps), **overrides})

    @property
    def n_updates(self) -> int:
        """Rollouts of ``n_steps``: ceil(timesteps / n_steps) (SB3 finishes its last rollout)."""
        return math.ceil(self.timesteps / self.n_steps)


class ActorCritic(NamedTuple):
    """PPO's two MLPs: ``actor`` (obs -> logits) and ``critic`` (obs -> value)."""

    actor: Any
    critic: Any


def _value(net: ActorCritic, obs: Any) -> Any:
    return mlp_apply(net.critic, obs, jnp.tanh)[..., 0]


def _logits(net: ActorCritic, obs: Any) -> Any:
    return mlp_apply(net.actor, obs, jnp.tanh)


def gae(rewards: Any, values: Any, dones: Any, last_value: Any, gamma: float, lam: float) -> tuple[Any, Any]:
    """Generalised advantage estimates and returns over one rollout (SB3's recursion).

    Args:
        rewards, values, dones: shape (T,); dones[t] says step t ended its episode, so the value
            after it (values[t + 1], or ``last_value`` after the last step) is not bootstrapped.

    Returns:
        ``(advantages, returns)``, shape (T,), returns = advantages + values.
    """
    next_values = jnp.concatenate([values[1:], last_value[None]])
    live = 1.0 - dones.astype(jnp.float32)
    deltas = rewards + gamma * next_values * live - values

    def back(carry: Any, x: Any) -> tuple[Any, Any]:
        delta, alive = x
        carry = delta + gamma * lam * alive * carry
        return carry, carry

    _, adv = jax.lax.scan(back, jnp.zeros(()), (deltas, live), reverse=True)
    return adv, adv + values


def ppo_loss(net: ActorCritic, batch: tuple[Any, ...], cfg: PPOConfig) -> Any:
    """SB3's PPO loss on a minibatch ``(obs, actions, old log-probs, advantages, returns)``."""
    obs, actions, old_logp, adv, returns = batch
    log_probs = jax.nn.log_softmax(_logits(net, obs))
    logp = jnp.take_along_axis(log_probs, actions[:, None], -1)[:, 0]
    adv = (adv - adv.mean()) / (adv.std(ddof=1) + 1e-8)
    ratio = jnp.exp(logp - old_logp)
    clipped = jnp.clip(ratio, 1 - cfg.clip_range, 1 + cfg.clip_range)
    policy_loss = -jnp.minimum(adv * ratio, adv * clipped).mean()
    value_loss = ((returns - _value(net, obs)) ** 2).mean()
    entropy = -(jnp.exp(log_probs) * log_probs).sum(-1).mean()
    return policy_loss - cfg.ent_coef * entropy + cfg.vf_coef * value_loss


def train_ppo(env: LearnerEnv, cfg: PPOConfig, key: Any, params: ViewParams) -> tuple[ActorCritic, tuple[Any, Any]]:
    """Train PPO for ``cfg.n_updates`` rollouts; returns the networks and the per-step (reward, revenue) log."""
    key, key_init, key_reset = jax.random.split(key, 3)
    obs, state = env.reset(key_reset, params)
    sizes = (obs.shape[-1], *cfg.hidden)
    key_actor, key_critic = jax.random.split(key_init)
    hidden_gains = (math.sqrt(2),) * len(cfg.hidden)
    net = ActorCritic(mlp_init(key_actor, (*sizes, cfg.n_actions), (*hidden_gains, 0.01)),
                      mlp_init(key_critic, (*sizes, 1), (*hidden_gains, 1.0)))
    optimiser = optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), optax.adam(cfg.learning_rate, eps=1e-5))
    n_minibatches = cfg.n_steps // cfg.batch_size

    def rollout_step(net: ActorCritic, carry: Any, key: Any) -> tuple[Any, Any]:
        obs, state = carry
        key_action, key_env = jax.random.split(key)
        logits = _logits(net, obs)
        action = jax.random.categorical(key_action, logits)
        logp = jax.nn.log_softmax(logits)[action]
        t = env.auto_step(key_env, state, action, params)
        bootstrap = jnp.logical_and(t.truncated, jnp.logical_not(t.terminated))
        reward = t.reward + cfg.gamma * _value(net, t.final_obs) * bootstrap
        done = jnp.logical_or(t.terminated, t.truncated)
        return (t.obs, t.state), (obs, action, logp, _value(net, obs), reward, done, t.raw_reward, t.revenue)

    def minibatch(carry: Any, batch: Any) -> tuple[Any, None]:
        net, opt_state = carry
        grads = jax.grad(ppo_loss)(net, batch, cfg)
        updates, opt_state = optimiser.update(grads, opt_state, net)
        return (optax.apply_updates(net, updates), opt_state), None

    def update(carry: Any, key: Any) -> tuple[Any, Any]:
        net, opt_state, obs, state = carry
        key_roll, key_epochs = jax.random.split(key)
        (obs, state), (b_obs, b_act, b_logp, b_val, b_rew, b_done, raw, revenue) = jax.lax.scan(
            lambda c, k: rollout_step(net, c, k), (obs, state), jax.random.split(key_roll, cfg.n_steps))
        adv, returns = gae(b_rew, b_val, b_done, _value(net, obs), cfg.gamma, cfg.gae_lambda)
        data = (b_obs, b_act, b_logp, adv, returns)

        def epoch(carry: Any, key: Any) -> tuple[Any, None]:
            order = jax.random.permutation(key, cfg.n_steps)
            batches = jax.tree.map(lambda x: x[order].reshape(n_minibatches, cfg.batch_size, *x.shape[1:]), data)
            return jax.lax.scan(minibatch, carry, batches)[0], None

        (net, opt_state), _ = jax.lax.scan(epoch, (net, opt_state), jax.random.split(key_epochs, cfg.n_epochs))
        return (net, opt_state, obs, state), (raw, revenue)

    init = (net, optimiser.init(net), obs, state)
    (net, *_), (raw, revenue) = jax.lax.scan(update, init, jax.random.split(key, cfg.n_updates))
    return net, (raw.reshape(-1), revenue.reshape(-1))


def act_ppo(net: ActorCritic, obs: Any) -> Any:
    """Deterministic PPO action: the most probable one."""
    return jnp.argmax(_logits(net, obs), axis=-1)


# --- DQN -----------------------------------------------------------------------------------------


class DQNConfig(NamedTuple):
    """DQN settings (Model reference, section 7; SB3 defaults for the rest). Hashable: static under jit."""

    timesteps: int
    n_actions: int
    learning_rate: float = 1e-4
    gamma: float = 0.99
    buffer_size: int = 50_000
    batch_size: int = 256
    learning_starts: int = 1000
    target_update_interval: int = 1000
    exploration_fraction: float = 0.2
    exploration_initial_eps: float = 1.0
    exploration_final_eps: float = 0.05
    train_freq: int = 4
    max_grad_norm: float = 10.0
    hidden: tuple[int, ...] = (64, 64)

    @classmethod
    def for_budget(cls, timesteps: int, n_actions: int, **overrides: Any) -> DQNConfig:
        """The reference settings with step counts scaled to ``timesteps`` like the SB3 path."""
        return cls(timesteps, n_actions, **{**sb3_hyperparameters("dqn", timesteps), **overrides})

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
        rows = jax.random.randint(key_batch, (cfg.batch_size,), 0, jnp.minimum(t, size))
        grads = jax.grad(dqn_loss)(net, target, jax.tree.map(lambda x: x[rows], buffer), cfg.gamma)
        updates, new_opt = optimiser.update(grads, opt_state, net)
        learn = t > cfg.learning_starts
        net, opt_state = jax.tree.map(lambda a, b: jnp.where(learn, a, b),
                                      (optax.apply_updates(net, updates), new_opt), (net, opt_state))
        return (net, target, opt_state, obs, state, buffer, t), log

    init = (net, net, optimiser.init(net), obs, state, buffer, jnp.zeros((), jnp.int32))
    (net, *_), (raw, revenue) = jax.lax.scan(chunk, init, jax.random.split(key, cfg.n_chunks))
    return net, (raw.reshape(-1), revenue.reshape(-1))


def act_dqn(net: Any, obs: Any) -> Any:
    """Deterministic DQN action: the greedy one."""
    return jnp.argmax(_q(net, obs), axis=-1)


# --- tabular Q-learning ----------------------------------------------------------------------------


class QTableConfig(NamedTuple):
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
    settings: QLearnerConfig = QLearnerConfig()


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


@dataclass(frozen=True)
class Learner:
    """A learner ready to trace: ``train(key, params) -> (policy, (rewards (T,), revenues (T,)))``
    and ``act(policy, obs) -> action`` (deterministic)."""

    train: Callable[[Any, ViewParams], tuple[Policy, tuple[Any, Any]]]
    act: Callable[[Policy, Any], Any]
    unit_obs: bool


def learner(algorithm: str, env: Any, config: Any) -> Learner:
    """The learner ``algorithm`` ("ppo", "dqn" or "qtable") with ``config`` (a :class:`PPOConfig`,
    :class:`DQNConfig` or :class:`QTableConfig`) on the functional env ``env``."""
    kinds: dict[str, tuple[type, Any, Any, bool]] = {
        "ppo": (PPOConfig, train_ppo, act_ppo, True),
        "dqn": (DQNConfig, train_dqn, act_dqn, True),
        "qtable": (QTableConfig, train_qtable, None, False),
    }
    if algorithm not in kinds:
        raise ValueError(f"the jax engine trains {sorted(kinds)}; got algorithm {algorithm!r}")
    kind, train, act, unit_obs = kinds[algorithm]
    if not isinstance(config, kind):
        raise TypeError(f"{algorithm} needs a {kind.__name__}; got {type(config).__name__}")
    view = LearnerEnv(env, unit_obs)
    return Learner(lambda key, params: train(view, config, key, params),
                   act if act is not None else qtable_actor(config.featurise), unit_obs)
