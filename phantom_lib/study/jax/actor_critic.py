"""Actor-critic learners in pure JAX: PPO and A2C (Model reference, section 7).

Both follow stable-baselines3's ``MlpPolicy`` and defaults, so the two engines train the same
algorithms: separate actor and critic MLPs [64, 64] with tanh; rollouts of ``n_steps`` with one
environment; a truncated step's reward gets gamma * V(final observation) added (SB3's time-limit
bootstrap); GAE over the rollout with SB3's ``episode_start`` masks; ceil(T / n_steps) rollouts
(SB3 finishes its last one).

* PPO: ``n_epochs`` passes over shuffled minibatches of ``batch_size``, clipped surrogate,
  advantages normalised per minibatch (unbiased std), value coefficient 0.5, Adam (eps 1e-5)
  with the gradient norm clipped at 0.5.
* A2C: one gradient step per rollout on the whole rollout, GAE lambda 1, no advantage
  normalisation, value coefficient 0.5, RMSprop (decay 0.99, eps 1e-5 outside the square root,
  as torch's) with the gradient norm clipped at 0.5.

``train_actor_critic(env, cfg, key, params)`` is one traceable function of (key, params) for a
static config: the study vmaps it over a batch of trials (:mod:`phantom_lib.study.jax.engine`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import optax

from phantom_lib._validation import Integer, Real, Rule
from phantom_lib.study.jax.view import (
    BudgetConfig,
    LearnerEnv,
    ViewParams,
    mlp_apply,
    mlp_init,
)


@dataclass(frozen=True)
class PPOConfig(BudgetConfig):
    """PPO settings (Model reference, section 7; SB3 defaults for the rest)."""

    ALGORITHM: ClassVar[str] = "ppo"
    learning_rate: float = 3e-4
    n_steps: int = 2048
    batch_size: int = 256
    n_epochs: int = 10
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    _parameter_constraints = {
        "learning_rate": (Real(low=0, low_open=True),),
        "n_steps": (Integer(low=1),),
        "batch_size": (Integer(low=1), Rule(lambda c: c.n_steps % c.batch_size == 0,
                                            "a divisor of n_steps ({n_steps}): each epoch cuts the rollout into "
                                            "n_steps / batch_size minibatches")),
        "n_epochs": (Integer(low=1),),
        "gae_lambda": (Real(low=0, high=1),),
        "clip_range": (Real(low=0, low_open=True),),
        "ent_coef": (Real(low=0),),
        "vf_coef": (Real(low=0),),
        "max_grad_norm": (Real(low=0, low_open=True),),
    }


@dataclass(frozen=True)
class A2CConfig(BudgetConfig):
    """A2C settings (Model reference, section 7: n_steps 64; SB3 defaults for the rest)."""

    ALGORITHM: ClassVar[str] = "a2c"
    learning_rate: float = 7e-4
    n_steps: int = 5
    gae_lambda: float = 1.0
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    rms_prop_eps: float = 1e-5
    _parameter_constraints = {
        "learning_rate": (Real(low=0, low_open=True),),
        "n_steps": (Integer(low=1),),
        "gae_lambda": (Real(low=0, high=1),),
        "ent_coef": (Real(low=0),),
        "vf_coef": (Real(low=0),),
        "max_grad_norm": (Real(low=0, low_open=True),),
        "rms_prop_eps": (Real(low=0, low_open=True),),
    }


def n_updates(cfg: PPOConfig | A2CConfig) -> int:
    """Rollouts of ``n_steps`` for the budget: ceil(timesteps / n_steps) (SB3 finishes its last one)."""
    return math.ceil(cfg.timesteps / cfg.n_steps)


class ActorCritic(NamedTuple):
    """The two MLPs: ``actor`` (obs -> logits) and ``critic`` (obs -> value)."""

    actor: Any
    critic: Any


class Rollout(NamedTuple):
    """One rollout, leading axis n_steps: learner-view observations, actions, their log-probabilities
    and values at collection, rewards (scaled, bootstrapped at truncations) and episode ends."""

    obs: Any
    action: Any
    logp: Any
    value: Any
    reward: Any
    done: Any


def _value(net: ActorCritic, obs: Any) -> Any:
    return mlp_apply(net.critic, obs, jnp.tanh)[..., 0]


def _logits(net: ActorCritic, obs: Any) -> Any:
    return mlp_apply(net.actor, obs, jnp.tanh)


def _policy_terms(net: ActorCritic, obs: Any, actions: Any) -> tuple[Any, Any, Any]:
    """Log-probabilities of ``actions``, entropies and values under ``net`` (SB3's ``evaluate_actions``)."""
    log_probs = jax.nn.log_softmax(_logits(net, obs))
    logp = jnp.take_along_axis(log_probs, actions[:, None], -1)[:, 0]
    entropy = -(jnp.exp(log_probs) * log_probs).sum(-1)
    return logp, entropy, _value(net, obs)


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
    logp, entropy, values = _policy_terms(net, obs, actions)
    adv = (adv - adv.mean()) / (adv.std(ddof=1) + 1e-8)
    ratio = jnp.exp(logp - old_logp)
    clipped = jnp.clip(ratio, 1 - cfg.clip_range, 1 + cfg.clip_range)
    policy_loss = -jnp.minimum(adv * ratio, adv * clipped).mean()
    return policy_loss - cfg.ent_coef * entropy.mean() + cfg.vf_coef * ((returns - values) ** 2).mean()


def a2c_loss(net: ActorCritic, batch: tuple[Any, ...], cfg: A2CConfig) -> Any:
    """SB3's A2C loss on a rollout ``(obs, actions, advantages, returns)``."""
    obs, actions, adv, returns = batch
    logp, entropy, values = _policy_terms(net, obs, actions)
    policy_loss = -(adv * logp).mean()
    return policy_loss - cfg.ent_coef * entropy.mean() + cfg.vf_coef * ((returns - values) ** 2).mean()


def _optimiser(cfg: PPOConfig | A2CConfig) -> optax.GradientTransformation:
    if isinstance(cfg, PPOConfig):
        rule = optax.adam(cfg.learning_rate, eps=1e-5)
    else:
        rule = optax.rmsprop(cfg.learning_rate, decay=0.99, eps=cfg.rms_prop_eps, eps_in_sqrt=False)
    return optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), rule)


def _learn(cfg: PPOConfig | A2CConfig, optimiser: optax.GradientTransformation, net: ActorCritic, opt_state: Any,
           rollout: Rollout, adv: Any, returns: Any, key: Any) -> tuple[ActorCritic, Any]:
    """The gradient steps after one rollout: PPO's epochs of minibatches, or A2C's single step."""

    def step(carry: Any, batch: Any) -> tuple[Any, None]:
        net, opt_state = carry
        grads = jax.grad(ppo_loss if isinstance(cfg, PPOConfig) else a2c_loss)(net, batch, cfg)
        updates, opt_state = optimiser.update(grads, opt_state, net)
        return (optax.apply_updates(net, updates), opt_state), None

    if isinstance(cfg, A2CConfig):
        return step((net, opt_state), (rollout.obs, rollout.action, adv, returns))[0]
    data = (rollout.obs, rollout.action, rollout.logp, adv, returns)
    n_minibatches = cfg.n_steps // cfg.batch_size

    def epoch(carry: Any, key: Any) -> tuple[Any, None]:
        order = jax.random.permutation(key, cfg.n_steps)
        batches = jax.tree.map(lambda x: x[order].reshape(n_minibatches, cfg.batch_size, *x.shape[1:]), data)
        return jax.lax.scan(step, carry, batches)[0], None

    return jax.lax.scan(epoch, (net, opt_state), jax.random.split(key, cfg.n_epochs))[0]


def train_actor_critic(env: LearnerEnv, cfg: PPOConfig | A2CConfig, key: Any,
                       params: ViewParams) -> tuple[ActorCritic, tuple[Any, Any]]:
    """Train PPO or A2C (by the config's type) for :func:`n_updates` rollouts.

    Returns:
        the networks and the training log ``(rewards, revenues)`` of every step, env units,
        shape (n_updates(cfg) * n_steps,).
    """
    key, key_init, key_reset = jax.random.split(key, 3)
    obs, state = env.reset(key_reset, params)
    sizes = (obs.shape[-1], *cfg.hidden)
    key_actor, key_critic = jax.random.split(key_init)
    hidden = (math.sqrt(2),) * len(cfg.hidden)
    net = ActorCritic(mlp_init(key_actor, (*sizes, cfg.n_actions), (*hidden, 0.01)),
                      mlp_init(key_critic, (*sizes, 1), (*hidden, 1.0)))
    optimiser = _optimiser(cfg)

    def collect(net: ActorCritic, carry: Any, key: Any) -> tuple[Any, Any]:
        obs, state = carry
        key_action, key_env = jax.random.split(key)
        logits = _logits(net, obs)
        action = jax.random.categorical(key_action, logits)
        t = env.auto_step(key_env, state, action, params)
        bootstrap = jnp.logical_and(t.truncated, jnp.logical_not(t.terminated))
        reward = t.reward + cfg.gamma * _value(net, t.final_obs) * bootstrap
        step = Rollout(obs, action, jax.nn.log_softmax(logits)[action], _value(net, obs), reward,
                       jnp.logical_or(t.terminated, t.truncated))
        return (t.obs, t.state), (step, t.raw_reward, t.revenue)

    def update(carry: Any, key: Any) -> tuple[Any, Any]:
        net, opt_state, obs, state = carry
        key_roll, key_learn = jax.random.split(key)
        (obs, state), (rollout, raw, revenue) = jax.lax.scan(
            lambda c, k: collect(net, c, k), (obs, state), jax.random.split(key_roll, cfg.n_steps))
        adv, returns = gae(rollout.reward, rollout.value, rollout.done, _value(net, obs), cfg.gamma, cfg.gae_lambda)
        net, opt_state = _learn(cfg, optimiser, net, opt_state, rollout, adv, returns, key_learn)
        return (net, opt_state, obs, state), (raw, revenue)

    init = (net, optimiser.init(net), obs, state)
    carry, (raw, revenue) = jax.lax.scan(update, init, jax.random.split(key, n_updates(cfg)))
    return carry[0], (raw.reshape(-1), revenue.reshape(-1))


def act_actor_critic(net: ActorCritic, obs: Any) -> Any:
    """Deterministic action: the most probable one."""
    return jnp.argmax(_logits(net, obs), axis=-1)
