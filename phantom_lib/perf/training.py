"""Training throughput of the two engines, and of the jax learners alone (figures, never asserted).

:func:`training_throughput` trains each learner once with the SB3 path
(:func:`phantom_lib.study.sb3.learners.train`: one env, one trial) and once per batch size with the
jax engine (:func:`phantom_lib.study.jax.engine.run_batch`: a batch of seeds in one compiled
program) on the same trial configuration, and reports env steps per second inside training
(learner updates included; the jax figure counts every trial of the batch, compile time apart).
:func:`learner_ceiling` times the jax learners on :class:`NullPricingEnv`, an env of the study's
shapes whose step costs almost nothing: the learners' own cost per step, the ceiling the engine
approaches as the market gets faster. :func:`ppo_versus_sb3` is ``phantom bench``'s side-by-side
PPO comparison (interleaved rounds, ratio within each round).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import pandas as pd

from phantom_lib.perf.rounds import interleaved, round_ratios, spread
from phantom_lib.study.common import EVAL_METRICS
from phantom_lib.study.design.designs import Trial, TrialConfig
from phantom_lib.study.jax.engine import learner_config, run_batch
from phantom_lib.study.jax.learners import learner
from phantom_lib.study.jax.view import ViewParams
from phantom_lib.study.sb3.learners import train

STUDY_CONFIG: dict[str, Any] = {"n_products": 10, "n_sessions": 100, "n_candidates": 5, "action_levels": 9,
                                "alpha0": 0.25, "eps_alpha": 0.15, "lambda_coi": 0.15, "max_steps": 100,
                                "eval_episodes": 1, "curve_points": 4}
"""The study's market and env (Model reference, section 6 defaults: M 100, N 10, K 5, 9 actions)."""


def training_throughput(algorithms: Sequence[str] = ("ppo", "a2c", "dqn", "qtable"), timesteps: int = 2048,
                        batch_sizes: Sequence[int] = (1, 16), config: Mapping[str, Any] = STUDY_CONFIG) -> pd.DataFrame:
    """Env steps per second inside training, SB3 path and jax engine, per learner.

    Returns:
        one row per (engine, algorithm, batch size): ``steps_per_s`` (the SB3 path: one trial;
        jax: all trials of the batch), ``train_seconds``, ``compile_seconds`` (jax),
        ``ratio_to_sb3`` (jax over the SB3 path's figure for the same learner).
    """
    rows = []
    for algorithm in algorithms:
        settings = {**config, "algorithm": algorithm, "timesteps": timesteps}
        sb3 = train(settings, 0)
        rows.append({"engine": "sb3", "algorithm": algorithm, "batch_size": 1, "steps_per_s": sb3["train_steps_per_s"],
                     "train_seconds": sb3["train_seconds"], "compile_seconds": float("nan")})
        for size in batch_sizes:
            metrics, record = run_batch([Trial(settings, seed) for seed in range(size)], size)
            rows.append({"engine": "jax", "algorithm": algorithm, "batch_size": size,
                         "steps_per_s": metrics[0]["train_steps_per_s"], "train_seconds": record.train_seconds,
                         "compile_seconds": record.compile_seconds})
    table = pd.DataFrame(rows)
    sb3_rate = table[table.engine == "sb3"].set_index("algorithm")["steps_per_s"]
    table["ratio_to_sb3"] = table["steps_per_s"] / table["algorithm"].map(sb3_rate)
    return table


class NullState(NamedTuple):
    """Time step of a :class:`NullPricingEnv` episode."""

    t: Any


@dataclass(frozen=True)
class NullPricingEnv:
    """The functional env API with the study's shapes (observation 2N + 4, reward, info) and a step
    that only draws a random observation: what remains of a training step is the learner's cost.

    Attributes:
        n_products: N. max_steps: episode length (truncated).
    """

    n_products: int = 10
    max_steps: int = 100

    def reset(self, key: Any, params: Any) -> tuple[Any, NullState]:
        return jax.random.uniform(key, (2 * self.n_products + 4,)), NullState(jnp.zeros((), jnp.int32))

    def step(self, key: Any, state: NullState, action: Any, params: Any) -> tuple[Any, ...]:
        obs = jax.random.uniform(key, (2 * self.n_products + 4,))
        reward = obs[0] * action
        info = {name: reward for name in EVAL_METRICS}
        t = state.t + 1
        return obs, NullState(t), reward, jnp.zeros((), bool), t >= self.max_steps, info


def learner_ceiling(algorithms: Sequence[str] = ("ppo", "a2c", "dqn", "qtable"), timesteps: int = 8192,
                    batch_sizes: Sequence[int] = (1, 16), config: Mapping[str, Any] = STUDY_CONFIG) -> pd.DataFrame:
    """Env steps per second of the jax learners on :class:`NullPricingEnv` (warm, compile apart).

    Returns:
        one row per (algorithm, batch size): ``steps_per_s`` (all learners of the batch),
        ``seconds`` and ``compile_seconds``.
    """
    rows = []
    for algorithm in algorithms:
        trial = TrialConfig.from_mapping({**config, "algorithm": algorithm, "timesteps": timesteps})
        env = NullPricingEnv(trial.env.market.n_products, trial.env.max_steps)
        learned = learner(algorithm, env, learner_config(trial))
        size_obs = 2 * trial.env.market.n_products + 4
        params = ViewParams(None, jnp.zeros(size_obs), jnp.ones(size_obs), jnp.float32(trial.reward_scale))
        for size in batch_sizes:
            keys = jax.random.split(jax.random.key(0), size)
            start = time.perf_counter()
            program = jax.jit(jax.vmap(learned.train, in_axes=(0, None))).lower(keys, params).compile()
            compiled = time.perf_counter() - start
            start = time.perf_counter()
            _, (rewards, _) = jax.block_until_ready(program(keys, params))
            seconds = time.perf_counter() - start
            rows.append({"algorithm": algorithm, "batch_size": size, "steps_per_s": rewards.size / seconds,
                         "seconds": seconds, "compile_seconds": compiled})
    return pd.DataFrame(rows)


def ppo_versus_sb3(timesteps: Sequence[int] = (8192, 32768), rounds: int = 3, batch_size: int = 16,
                   config: Mapping[str, Any] = STUDY_CONFIG) -> pd.DataFrame:
    """JAX PPO against SB3 PPO (one trial) at each budget, side by side, with the JAX batch in two
    shapes: ``batch_size`` seeds of one cell (each trial walks its own market pools) and
    ``batch_size`` cells of one seed, shares alpha0 spread over [0, 0.75] (one pool walk shared by
    the batch, the shape of every batch of the committed factorial). Every round trains the three,
    one after the other (:func:`~phantom_lib.perf.rounds.interleaved`), and ratios are formed within
    the round.

    Returns:
        one row per budget: ``jax_steps_per_s`` (the seeds batch, all its trials, compile apart),
        ``jax_cells_steps_per_s`` (the cells batch), ``sb3_steps_per_s``, ``ratio`` (seeds / sb3) and
        ``ratio_cells`` (cells / sb3), each the median over rounds with its ``_min`` and ``_max``.
    """
    rows = []
    for steps in timesteps:
        settings = {**config, "algorithm": "ppo", "timesteps": steps}
        by_seed = [Trial(dict(settings), seed) for seed in range(batch_size)]
        by_cell = [Trial({**settings, "alpha0": 0.75 * i / max(batch_size - 1, 1)}, 0) for i in range(batch_size)]

        def jax_rate(trials: list[Trial], steps: int = steps) -> float:
            _, record = run_batch(trials, batch_size)
            return batch_size * steps / record.train_seconds

        def sb3_rate(settings: Mapping[str, Any] = settings) -> float:
            return float(train(dict(settings), 0)["train_steps_per_s"])

        rates = interleaved({"seeds": partial(jax_rate, by_seed), "cells": partial(jax_rate, by_cell),
                             "sb3": sb3_rate}, rounds)
        row: dict[str, Any] = {"timesteps": steps, "jax_batch": batch_size}
        for name, summary in (("jax_steps_per_s", spread(rates["seeds"])),
                              ("jax_cells_steps_per_s", spread(rates["cells"])),
                              ("sb3_steps_per_s", spread(rates["sb3"])),
                              ("ratio", round_ratios(rates["seeds"], rates["sb3"])),
                              ("ratio_cells", round_ratios(rates["cells"], rates["sb3"]))):
            row.update({name: summary["median"], f"{name}_min": summary["min"], f"{name}_max": summary["max"]})
        rows.append(row)
    return pd.DataFrame(rows)
