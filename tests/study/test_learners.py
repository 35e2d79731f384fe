"""Learners, reference policies, evaluation and the trainable on the real pricing env."""

from __future__ import annotations

import math
import tempfile

import numpy as np
import pytest

from phantom_lib import study as learners
from phantom_lib.study.common import REFERENCE_HYPERPARAMETERS

# a small, fast market: 3 products, 10 sessions per draw, 20-step episodes
SMALL = {"n_products": 3, "n_sessions": 10, "max_steps": 20, "alpha0": 0.25, "eps_alpha": 0.15,
         "lambda_coi": 0.15, "action_levels": 5, "curve_points": 4}


def test_hyperparameters_are_the_reference_at_the_reference_budget_and_shrink_below():
    for algorithm in learners.SB3_ALGORITHMS:
        assert learners.sb3_hyperparameters(algorithm, 8192) == REFERENCE_HYPERPARAMETERS[algorithm]
    ppo = learners.sb3_hyperparameters("ppo", 1536)  # 1536 / 4 = 384 -> 256
    assert (ppo["n_steps"], ppo["batch_size"], ppo["n_epochs"]) == (256, 256, 10)
    assert learners.sb3_hyperparameters("ppo", 300)["batch_size"] == 64  # batch <= rollout
    dqn = learners.sb3_hyperparameters("dqn", 1536)  # 1536 / 8 = 192 -> 128; 1536 / 4 -> 256
    assert (dqn["learning_starts"], dqn["target_update_interval"], dqn["batch_size"]) == (128, 128, 256)
    assert learners.sb3_hyperparameters("a2c", 1536)["n_steps"] == 64
    with pytest.raises(ValueError, match="SB3 algorithms"):
        learners.sb3_hyperparameters("qtable", 100)


@pytest.mark.parametrize("algorithm", ["ppo", "a2c", "dqn", "qtable"])
def test_each_learner_trains_a_few_hundred_steps_and_returns_the_documented_metrics(algorithm, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where SB3 would put a log folder per model
    metrics = learners.train({**SMALL, "algorithm": algorithm, "timesteps": 300}, seed=0)
    assert not list(tmp_path.glob("SB3-*"))  # no log folder left behind per model
    assert set(metrics) == set(learners.METRICS)
    assert metrics["train_steps"] >= 300
    assert len(metrics["curve_step"]) == len(metrics["curve_reward"]) == 4
    assert metrics["curve_step"][-1] == metrics["train_steps"]
    scalars = [v for k, v in metrics.items() if not k.startswith("curve_")]
    assert all(math.isfinite(v) for v in scalars)
    assert metrics["worst_reward"] == min(metrics["reward"], metrics["reward_lo"], metrics["reward_hi"])
    assert metrics["worst_revenue"] == min(metrics["revenue"], metrics["revenue_lo"], metrics["revenue_hi"])
    assert metrics["worst_leak"] == max(metrics["coi_leak"], metrics["coi_leak_lo"], metrics["coi_leak_hi"])
    assert (metrics["alpha_lo"], metrics["alpha_hi"]) == pytest.approx((0.10, 0.40))
    assert 1 <= metrics["episode_length"] <= SMALL["max_steps"]


def test_train_is_reproducible_per_seed():
    config = {**SMALL, "algorithm": "qtable", "timesteps": 200}
    a, b, c = learners.train(config, 1), learners.train(config, 1), learners.train(config, 2)
    keys = ["reward", "revenue", "coi_leak", "curve_reward"]
    assert [a[k] for k in keys] == [b[k] for k in keys]
    assert [a[k] for k in keys] != [c[k] for k in keys]


def test_static_policy_keeps_prices_and_references_need_no_training():
    metrics = learners.train({**SMALL, "algorithm": "static", "variant": "reference"}, seed=0)
    assert metrics["volatility"] == 0.0  # scale 1.0 every step: prices never move
    assert metrics["train_steps"] == 0 and metrics["curve_step"] == []


def test_best_fixed_picks_the_constant_action_with_the_best_search_reward(monkeypatch):
    from phantom_lib.study.sb3 import policies

    # a hand-made search table: action -> mean reward; the best is action 3 (7.5), action 1 is second (7.0)
    table = {0: 3.0, 1: 7.0, 2: 5.0, 3: 7.5, 4: 1.0}
    calls = []

    def scripted(policy, trial, alpha, episodes, seed):
        calls.append((policy.action, alpha, episodes, seed))
        return {"reward": table[policy.action]}

    monkeypatch.setattr(policies, "run_episodes", scripted)
    trial = learners.TrialConfig.from_mapping({**SMALL, "algorithm": "best_fixed", "variant": "reference"})
    assert learners.reference_policy(trial, seed=4).action == 3
    # every action searched once, at the trial's own share, with its search budget, on seeds apart from evaluation's
    assert calls == [(a, 0.25, trial.search_episodes, 10_004) for a in range(5)]
    table[1] = 7.5  # a tie goes to the first (lowest) action
    assert learners.reference_policy(trial, seed=4).action == 1


def test_surge_and_elasticity_policies_by_hand():
    scales = np.linspace(0.8, 1.2, 5)  # 0.8 0.9 1.0 1.1 1.2
    surge = learners.SurgePolicy(scales, n_products=2)
    tail = [0.0, 0.0, 0.3, 0.15]
    assert surge.predict(np.array([80.0, 20.0, 50, 50, *tail]))[0] == 4  # max/mean 1.6 -> surge 1.2
    assert surge.predict(np.array([55.0, 45.0, 50, 50, *tail]))[0] == 1  # 1.1 -> discount 0.9
    assert surge.predict(np.array([65.0, 35.0, 50, 50, *tail]))[0] == 2  # 1.3 -> hold
    elastic = learners.ElasticityPolicy(scales, n_products=2, human_mu=50.0, agent_mu=45.0)
    # alpha0 = 0.2: v = 49, p* = 24.5; mean price 30 -> scale 0.8 gives 24
    assert elastic.predict(np.array([50.0, 50.0, 20, 40, 0.0, 0.0, 0.2, 0.15]))[0] == 0
    # mean price 24.5 already: hold
    assert elastic.predict(np.array([50.0, 50.0, 24.5, 24.5, 0.0, 0.0, 0.2, 0.15]))[0] == 2


def test_evaluation_env_has_no_adversary_and_training_env_does():
    trial = learners.TrialConfig.from_mapping({**SMALL, "algorithm": "ppo"})
    train_env = learners.make_env(trial).unwrapped.config
    eval_env = learners.make_env(trial, alpha0=0.4, robust=False).unwrapped.config
    np.testing.assert_allclose(train_env.candidates, np.linspace(0.10, 0.40, 5))
    np.testing.assert_allclose(eval_env.candidates, [0.4])
    assert (eval_env.lambda_coi, eval_env.eps_alpha) == (trial.env.lambda_coi, trial.env.eps_alpha)  # same observation


def test_trial_config_errors_name_the_field():
    with pytest.raises(ValueError, match=r"unknown trial config key\(s\) \['timestep'\]"):
        learners.TrialConfig.from_mapping({"algorithm": "ppo", "timestep": 10})
    with pytest.raises(
        ValueError, match=r"TrialConfig.variant = 'baseline': expected 'baseline' only with lambda_coi 0"
    ):
        learners.TrialConfig.from_mapping(
            {"algorithm": "ppo", "variant": "baseline", "lambda_coi": 0.15, "eps_alpha": 0.0, "n_candidates": 1}
        )
    with pytest.raises(ValueError, match=r"TrialConfig.algorithm = 'sac': expected one of 'ppo', 'a2c'"):
        learners.TrialConfig("sac")
    with pytest.raises(ValueError, match="reference policy"):
        learners.TrialConfig("static")  # a reference policy needs variant="reference"
    with pytest.raises(ValueError, match=r"EnvConfig.alpha0 = 1.5: expected a finite number in \[0, 1\]"):
        learners.TrialConfig.from_mapping({"algorithm": "ppo", "alpha0": 1.5})


def test_learning_curve_by_hand():
    assert learners.learning_curve([1, 2, 3, 4, 5, 6], 3) == ([2, 4, 6], [1.5, 3.5, 5.5])
    ends, means = learners.learning_curve([1.0, 3.0, 5.0], 2)
    assert ends == [2, 3] and means == [2.0, 5.0]
