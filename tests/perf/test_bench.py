"""The benchmark's bookkeeping (no timing assertions: benchmarks report, tests check correctness)."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from _simulator_cases import behaviour

from phantom_lib import cli
from phantom_lib.perf import bench


@pytest.fixture(scope="module")
def beh():
    return behaviour()


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match=r"BenchConfig.repeats = 0: expected an integer >= 1"):
        bench.BenchConfig(repeats=0)
    with pytest.raises(ValueError, match=r"BenchConfig.batch_sizes = \(\): expected a list of at least 1"):
        bench.BenchConfig(batch_sizes=())
    with pytest.raises(ValueError, match=r"BenchConfig.steps = \{'numpy': 3\}: expected a count >= 1 for each of"):
        bench.BenchConfig(steps={"numpy": 3})
    with pytest.raises(ValueError, match=r"BenchConfig.min_seconds = -1.0: expected a finite number >= 0"):
        bench.BenchConfig(min_seconds=-1.0)
    with pytest.raises(ValueError, match=r"BenchConfig.workers = \(0,\)"):
        bench.BenchConfig(workers=(0,))
    assert bench.BenchConfig.quick().steps.keys() == set(bench.ENGINES)


def test_a_timed_repeat_takes_its_steps_and_runs_its_minimum_time(beh):
    env = bench._env("numpy", beh, 0, n_products=3, n_sessions=10, n_candidates=1)
    actions = np.arange(9)
    seconds, taken, states = bench._timed_steps(env, 7, actions)
    assert taken == 7 and states > 0
    seconds, taken, _ = bench._timed_steps(env, 1, actions, min_seconds=0.05)
    assert seconds >= 0.05 and taken > 1  # one step takes well under 50 ms: the loop went on


def test_frame_size_is_the_square_of_the_expanded_states(beh):
    # 7 states x 1000 products, float64: (7000)^2 * 8 bytes
    assert bench.frame_megabytes(beh, 1000) == pytest.approx(7000**2 * 8 / 2**20)


def test_reference_profile_partitions_the_step_time(beh):
    profile = bench.reference_hot_spots(beh, n_candidates=2, eps_alpha=0.1, steps=3)
    assert profile.breakdown.sum() == pytest.approx(profile.seconds)
    assert (profile.breakdown.iloc[:4] >= 0).all()
    assert 0 < profile.lookup_share_pct < 100
    assert profile.lookup_share_pct == pytest.approx(100 * profile.breakdown[bench.LOOKUP_PART] / profile.seconds)
    assert list(profile.table.columns) == ["function", "calls", "seconds", "share_pct"]


def test_engines_run_the_samplers_they_name(beh):
    from phantom_lib.sim.samplers.numpy import NumpySampler, PerStateSampler

    fields = {"n_products": 3, "n_sessions": 10}
    assert type(bench._env(bench.PER_STATE, beh, 0, **fields)._core.sampler) is PerStateSampler
    reused = bench._env(bench.REUSED, beh, 0, path_reuse=4, **fields)
    assert type(reused._core.sampler) is NumpySampler and reused.config.market.path_reuse == 4
    assert bench._env("numpy", beh, 0, **fields).config.market.path_reuse == 1


def test_batched_rollout_counts_the_states_of_every_step(beh):
    """The rollout's sampled-state total equals the sum of the per-step totals of the same steps."""
    from phantom_lib.sim import jax_env
    from phantom_lib.sim.config import EnvConfig

    env, params = jax_env.make(EnvConfig(n_candidates=2, eps_alpha=0.1).replace(n_products=3, n_sessions=4), beh,
                               pool_paths=64, pool_blocks=16)
    keys = jax.random.split(jax.random.key(0), 3)
    _, states = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    actions = jnp.asarray([[0, 4, 8], [8, 1, 2]], jnp.int32)
    _, _, total = jax.jit(bench.batched_rollout, static_argnums=0)(env, keys, states, actions, params)
    expected = 0
    for action in actions:
        pairs = jax.vmap(jax.random.split)(keys)
        _, states, _, _, _, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(pairs[:, 1], states, action, params)
        keys = pairs[:, 0]
        expected += int(info["sampled_states"].sum())
    assert int(total) == expected > 0


def test_large_rows_targets_and_headline_read_the_result():
    scaling = pd.DataFrame(
        [
            {**bench.LARGE, "backend": b, "peak_mb": mb}
            for b, mb in (("reference", np.nan), ("numpy", 2.0), ("jax", 1.0))
        ]
        + [{"n_products": 10, "n_sessions": 100, "n_candidates": 5, "backend": "numpy", "peak_mb": 9.0}]
    )
    speed = {"reference": 1.0, bench.PER_STATE: 10.0, "numpy": 30.0, bench.REUSED: 60.0, "jax": 40.0}
    result = {
        "published": [
            {"setting": s, "backend": b, "speedup": v, "steps_per_s": 10 * v, "over_per_state": v / 10.0}
            for s in ("k1", "k5")
            for b, v in speed.items()
        ],
        "batched": [
            {"config": "profile", "env_steps_per_s": 2000.0},
            {"config": "profile", "env_steps_per_s": 1500.0},
            {"config": "study", "env_steps_per_s": 300.0},
        ],
        "scaling": scaling.to_dict(orient="records"),
    }
    assert bench.targets(result) == {
        "numpy_after_over_before_k5": 3.0,
        "numpy_after_over_before_k1": 3.0,
        "numpy_reused_over_before_k5": 6.0,
        "numpy_over_reference_k5": 30.0,
        "jax_over_reference_k5": 40.0,
        "jax_batched_profile_steps_per_s": 2000.0,
        "jax_batched_study_steps_per_s": 300.0,
        "jax_batched_over_reference_k5": 200.0,
        "n1000_m100_k5_peak_mb": 2.0,
    }
    head = bench.headline(result)
    assert list(head.index) == ["k1", "k5"] and head.loc["k5", "published original"] == 7.2
    assert head.loc["k1", "published arrays+JAX"] == 220.0 and head.loc["k5", "numpy"] == 300.0
    assert head.loc["k5", "numpy after / before"] == 3.0 and head.loc["k5", "jax batched (profile, best)"] == 2000.0


def test_bench_command_is_registered():
    args = cli.build_parser().parse_args(["bench", "--quick", "-o", "out.json"])
    assert args.quick and args.output == "out.json" and args.func is cli._bench


def test_side_by_side_reads_medians_ranges_ratios_and_the_load():
    batched = [
        {
            "config": "profile",
            "envs": 64,
            "workers": 1,
            "env_steps_per_s": 900.0,
            "env_steps_per_s_min": 800.0,
            "env_steps_per_s_max": 950.0,
        },
        {
            "config": "profile",
            "envs": 1024,
            "workers": 1,
            "env_steps_per_s": 1200.0,
            "env_steps_per_s_min": 1000.0,
            "env_steps_per_s_max": 1300.0,
        },
        {
            "config": "profile",
            "envs": 1024,
            "workers": 2,
            "env_steps_per_s": 5000.0,
            "env_steps_per_s_min": 4000.0,
            "env_steps_per_s_max": 6000.0,
        },
        {
            "config": "study",
            "envs": 1024,
            "workers": 1,
            "env_steps_per_s": 300.0,
            "env_steps_per_s_min": 250.0,
            "env_steps_per_s_max": 320.0,
        },
    ]
    training = [
        {
            "timesteps": 32768,
            "jax_batch": 16,
            "jax_steps_per_s": 6000.0,
            "jax_steps_per_s_min": 5000.0,
            "jax_steps_per_s_max": 7000.0,
            "sb3_steps_per_s": 100.0,
            "sb3_steps_per_s_min": 90.0,
            "sb3_steps_per_s_max": 110.0,
            "ratio": 60.0,
            "ratio_min": 50.0,
            "ratio_max": 70.0,
            "jax_cells_steps_per_s": 9000.0,
            "jax_cells_steps_per_s_min": 8000.0,
            "jax_cells_steps_per_s_max": 9500.0,
            "ratio_cells": 90.0,
            "ratio_cells_min": 80.0,
            "ratio_cells_max": 95.0,
        }
    ]
    published = [
        {"setting": s, "backend": b, "speedup": v, "speedup_min": v - 1, "speedup_max": v + 1}
        for s in ("k1", "k5")
        for b, v in (("numpy", 30.0), ("jax", 40.0))
    ]
    result = {
        "batched": batched,
        "training": training,
        "published": published,
        "load": {"run": {"before": [1.0, 2.0, 3.0], "after": [1.5, 2.5, 3.5]}},
    }
    table = bench.side_by_side(result).set_index("quantity")
    profile = table.loc[
        "batched jax env, M 10, N 3, K 5, 1024 envs, 1 worker"
    ]  # the best one-worker row, not two workers
    assert (profile["median"], profile["min"], profile["max"], profile["target"]) == (1200.0, 1000.0, 1300.0, 1e6)
    assert table.loc["batched jax env, M 100, N 10, K 5, 1024 envs, 1 worker", "target"] == 250_000
    ratio = table.loc["JAX PPO (16 seeds, one cell) / SB3 PPO, 32,768 steps"]
    assert (ratio["kind"], ratio["median"], ratio["min"], ratio["max"], ratio["target"]) == (
        "ratio",
        60.0,
        50.0,
        70.0,
        50.0,
    )
    cells = table.loc["JAX PPO (16 cells, one seed) / SB3 PPO, 32,768 steps"]
    assert (cells["median"], cells["min"], cells["max"], cells["target"]) == (90.0, 80.0, 95.0, 50.0)
    assert table.loc["JAX PPO (16 cells, one seed), 32,768 steps", "median"] == 9000.0
    assert table.loc["SB3 PPO (1 seed), 32,768 steps", "median"] == 100.0
    assert table.loc["numpy / reference backend, k5 (M 10, N 3)", "min"] == 29.0
    assert bench.load_text(result) == "1.00/2.00/3.00 -> 1.50/2.50/3.50"


def test_time_envs_reports_rounds_median_and_range(beh):
    envs = {e: bench._env(e, beh, 0, n_products=3, n_sessions=4) for e in ("numpy", "jax")}
    rates = bench.time_envs(envs, {"numpy": 2, "jax": 2}, repeats=3, seed=0)
    for rate in rates.values():
        assert len(rate["rounds"]) == 3
        assert rate["steps_per_s_min"] == min(rate["rounds"]) and rate["steps_per_s_max"] == max(rate["rounds"])
        assert rate["steps_per_s"] == sorted(rate["rounds"])[1]
