"""The pure-JAX learners find the closed-form optimum of a tiny deterministic MDP."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _tiny_mdp import (
    GAMMA,
    HORIZON,
    NEXT,
    REWARD,
    TinyEnv,
    closed_form_q,
    one_hot_state,
    optimal_return,
)

from phantom_lib.study.common import DigitisedFeatures, QLearnerConfig
from phantom_lib.study.jax import learners as jl
from phantom_lib.study.jax.actor_critic import A2CConfig, PPOConfig, n_updates
from phantom_lib.study.jax.q import DQNConfig, QTableConfig
from phantom_lib.study.jax.view import LearnerEnv, ViewParams, _reset_where

SEEDS = 8
OPTIMAL = [1, 1, 0]  # greedy actions of Q* in states 0, 1, 2 (see _tiny_mdp)

CONFIGS = {
    # budgets where the scaled reference settings learn this MDP; PPO with shorter rollouts (more updates);
    # the Model reference's gamma (0.99) would make the greedy gaps tiny, so the MDP's own GAMMA (0.9)
    "ppo": PPOConfig.for_budget(4096, 2, gamma=GAMMA, n_steps=256, batch_size=64),
    "a2c": A2CConfig.for_budget(4096, 2, gamma=GAMMA),
    "dqn": DQNConfig.for_budget(8192, 2, gamma=GAMMA, batch_size=64),
    "qtable": QTableConfig(4096, 2, 3, one_hot_state, QLearnerConfig(gamma=GAMMA)),
}


def greedy_return(actions: np.ndarray) -> float:
    """Undiscounted return of one episode of the MDP under the per-state actions, walked by hand."""
    state, total = 0, 0.0
    for _ in range(HORIZON):
        action = int(actions[state])
        total += REWARD[state, action]
        state = NEXT[state, action]
    return total


@functools.cache
def trained(algorithm: str):
    """Eight seeds of ``algorithm`` trained on the MDP in one vmapped program (cached for the module)."""
    env = TinyEnv()
    learned = jl.learner(algorithm, env, CONFIGS[algorithm])
    params = ViewParams(env.params(), jnp.zeros(3), jnp.ones(3), jnp.float32(1.0))
    keys = jax.random.split(jax.random.key(0), SEEDS)
    policies, log = jax.jit(jax.vmap(learned.train, in_axes=(0, None)))(keys, params)
    actions = np.asarray(jax.vmap(lambda policy: learned.act(policy, jnp.eye(3)))(policies))
    return policies, actions, log


def test_closed_form_is_what_the_docstring_says():
    q = closed_form_q()
    assert q.argmax(1).tolist() == OPTIMAL
    assert q[0, 0] > q[0, 1] - 2  # sanity: staying is tempting, yet moving is optimal
    assert REWARD[0, 0] > REWARD[0, 1]  # myopically, state 0 prefers action 0
    assert greedy_return(np.array(OPTIMAL)) == optimal_return() == 16.0
    assert greedy_return(np.array([0, 1, 0])) == 5.0  # the myopic policy


@pytest.mark.parametrize("algorithm", sorted(CONFIGS))
def test_every_seed_learns_the_optimal_policy(algorithm):
    _, actions, (rewards, revenues) = trained(algorithm)
    assert actions.tolist() == [OPTIMAL] * SEEDS
    assert all(greedy_return(a) == optimal_return() for a in actions)
    assert rewards.shape == (SEEDS, CONFIGS[algorithm].timesteps)  # budgets here are whole rollouts/chunks
    np.testing.assert_array_equal(rewards, revenues)  # the tiny env reports revenue = reward


def test_the_q_learner_converges_to_the_closed_form_q():
    table = np.asarray(trained("qtable")[0])
    np.testing.assert_allclose(table, np.broadcast_to(closed_form_q(), (SEEDS, 3, 2)), atol=0.05)


def test_the_reset_batching_rule_equals_the_per_trial_reset():
    env = TinyEnv()
    view = LearnerEnv(env, unit_obs=False)
    params = ViewParams(env.params(), jnp.zeros(3), jnp.ones(3), jnp.float32(1.0))
    _, state = view.reset(jax.random.key(0), params)
    moved = env.step(jax.random.key(0), state, 1, params.env)  # now in state 1
    done = jnp.array([True, False, True])
    keys = jax.random.split(jax.random.key(1), 3)
    batch = jax.tree.map(lambda x: jnp.stack([x] * 3), (moved[0], moved[1]))
    reset_where = _reset_where(view)
    got = jax.vmap(reset_where, in_axes=(0, 0, None, 0, 0))(done, keys, params, *batch)
    for i in range(3):
        alone = reset_where(done[i], keys[i], params, moved[0], moved[1])
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(alone)):
            np.testing.assert_array_equal(a[i], b)
    assert got[1].s.tolist() == [0, 1, 0]
    nobody = jax.vmap(reset_where, in_axes=(0, 0, None, 0, 0))(jnp.zeros(3, bool), keys, params, *batch)
    assert nobody[1].s.tolist() == [1, 1, 1]


def test_digitised_features_agree_between_numpy_and_jax():
    features = DigitisedFeatures(3, 10.0, 150.0)
    rng = np.random.default_rng(0)
    for _ in range(50):
        q = rng.dirichlet(np.ones(3)) * 100
        obs = np.concatenate([q, rng.uniform(10, 150, 3), [0.3, 0.2, 0.3, 0.15]])
        assert features(obs) == int(features.index(jnp, jnp.asarray(obs, jnp.float32)))


def test_learner_rejects_unknown_algorithms_and_wrong_configs():
    with pytest.raises(ValueError, match="the jax engine trains"):
        jl.learner("sac", TinyEnv(), CONFIGS["ppo"])
    with pytest.raises(TypeError, match="ppo needs a PPOConfig"):
        jl.learner("ppo", TinyEnv(), CONFIGS["dqn"])


def test_budget_scaling_follows_the_sb3_path():
    ppo = PPOConfig.for_budget(300, 5)
    assert (ppo.n_steps, ppo.batch_size, n_updates(ppo)) == (64, 64, 5)  # 5 rollouts of 64 >= 300 steps
    dqn = DQNConfig.for_budget(1536, 9)
    assert (dqn.learning_starts, dqn.target_update_interval, dqn.batch_size) == (128, 128, 256)
    assert dqn.capacity == 1536 and DQNConfig.for_budget(100_000, 9).capacity == 50_000
    a2c = A2CConfig.for_budget(8192, 5)
    assert (a2c.n_steps, a2c.learning_rate, a2c.gae_lambda, n_updates(a2c)) == (64, 7e-4, 1.0, 128)
