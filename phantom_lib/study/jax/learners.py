"""The study's learners in pure JAX: PPO, A2C, DQN and the tabular Q-learner (Model reference, section 7).

:func:`learner` builds one of them for a functional env and a static config: a
:class:`Learner` whose ``train(key, params) -> (policy, (rewards, revenues))`` is the whole
training loop as one traceable function, so ``jax.jit(jax.vmap(train))`` trains a batch of
learners (seeds, and environments that differ in alpha0, eps_alpha and lambda_coi) in one
compiled program (:mod:`phantom_lib.study.jax.engine` builds the batches), and whose
``act(policy, obs)`` is the deterministic action used in evaluation.

Why this implementation. A compact PureJaxRL-style PPO of our own on jax + optax trained as fast
as rejax's on this machine (81k-123k env steps/s on a toy pricing env at 1-16 vmapped agents,
against 86k-111k) with no other dependency, while rejax works here only with an old gymnax
pinned and a tfp nightly (~390 MB), evaluates more than it trains by default and samples its
DQN replay slowly. Writing our own also lets every setting follow stable-baselines3, so the two
engines train the same algorithms on the same observation (rescaled to [0, 1]), reward
(times ``reward_scale``) and budget (step counts scaled by
:func:`phantom_lib.study.common.sb3_hyperparameters`), with one environment per learner as in
the SB3 path: the batch of learners is the parallelism, not parallel envs inside a learner.
Details: :mod:`~phantom_lib.study.jax.view` (what a learner sees, networks, initialisation),
:mod:`~phantom_lib.study.jax.actor_critic` (PPO, A2C), :mod:`~phantom_lib.study.jax.q` (DQN,
the Q-learner).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from phantom_lib.study.jax.actor_critic import (
    A2CConfig,
    PPOConfig,
    act_actor_critic,
    train_actor_critic,
)
from phantom_lib.study.jax.q import (
    DQNConfig,
    QTableConfig,
    act_dqn,
    qtable_actor,
    train_dqn,
    train_qtable,
)
from phantom_lib.study.jax.view import LearnerEnv, ViewParams

Policy = Any
"""A learner's trained parameters (a pytree)."""

JAX_ALGORITHMS = ("ppo", "a2c", "dqn", "qtable")
"""The learners :func:`learner` builds."""


@dataclass(frozen=True)
class Learner:
    """A learner ready to trace: ``train(key, params) -> (policy, (rewards (T,), revenues (T,)))``
    (env units, every training step) and ``act(policy, obs) -> action`` (deterministic);
    ``unit_obs``: whether it sees observations rescaled to [0, 1]."""

    train: Callable[[Any, ViewParams], tuple[Policy, tuple[Any, Any]]]
    act: Callable[[Policy, Any], Any]
    unit_obs: bool


def learner(algorithm: str, env: Any, config: Any) -> Learner:
    """The learner ``algorithm`` (one of :data:`JAX_ALGORITHMS`) with ``config`` (a
    :class:`PPOConfig`, :class:`A2CConfig`, :class:`DQNConfig` or :class:`QTableConfig`) on the
    functional env ``env``."""
    kinds: dict[str, tuple[type, Any, Any, bool]] = {
        "ppo": (PPOConfig, train_actor_critic, act_actor_critic, True),
        "a2c": (A2CConfig, train_actor_critic, act_actor_critic, True),
        "dqn": (DQNConfig, train_dqn, act_dqn, True),
        "qtable": (QTableConfig, train_qtable, None, False),
    }
    if algorithm not in kinds:
        raise ValueError(f"the jax engine trains {JAX_ALGORITHMS}; got algorithm {algorithm!r}")
    kind, train, act, unit_obs = kinds[algorithm]
    if not isinstance(config, kind):
        raise TypeError(f"{algorithm} needs a {kind.__name__}; got {type(config).__name__}")
    view = LearnerEnv(env, unit_obs)
    return Learner(lambda key, params: train(view, config, key, params),
                   act if act is not None else qtable_actor(cast(QTableConfig, config).featurise), unit_obs)
