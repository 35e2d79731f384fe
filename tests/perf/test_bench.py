"""The benchmark's bookkeeping (no timing assertions: benchmarks report, tests check correctness)."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from _simulator_cases import behaviour

from phantom_lib import cli
from phantom_lib.perf import bench
from phantom_lib.sim.market import MarketConfig
from phantom_lib.sim.samplers import jax as jax_backend


@pytest.fixture(scope="module")
def beh():
    return behaviour()


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        bench.BenchConfig(repeats=0)
    with pytest.raises(ValueError, match="batch_sizes must be a non-empty tuple"):
        bench.BenchConfig(batch_sizes=())
    with pytest.raises(ValueError, match="steps must give each of"):
        bench.BenchConfig(steps={"numpy": 3})
    with pytest.raises(ValueError, match="min_seconds must be >= 0"):
        bench.BenchConfig(min_seconds=-1.0)


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
    profile = bench.profile_reference(beh, n_candidates=2, eps_alpha=0.1, steps=3)
    assert profile.breakdown.sum() == pytest.approx(profile.seconds)
    assert (profile.breakdown.iloc[:4] >= 0).all()
    assert 0 < profile.lookup_share_pct < 100
    assert profile.lookup_share_pct == pytest.approx(100 * profile.breakdown[bench.LOOKUP_PART] / profile.seconds)
    assert list(profile.table.columns) == ["function", "calls", "seconds", "share_pct"]


def test_bare_kernel_counts_the_states_the_env_walk_records(beh):
    arrays = jax_backend.market_arrays(beh, MarketConfig())
    classes = jnp.asarray(np.tile([0, 0, 1], (4, 1)), dtype=jnp.int32)
    key = jax.random.key(3)
    counted = int(jax.jit(bench.bare_walk, static_argnums=(3, 4, 5))(key, classes, arrays, 40, 2, beh.end))
    expected = 0
    for round_key in jax.random.split(key, 2):
        uniforms = jax.random.uniform(round_key, (40,) + classes.shape)
        paths, _ = jax.jit(jax_backend.walk, static_argnums=3)(classes, uniforms, arrays, beh.end)
        expected += int((np.asarray(paths) >= 0).sum())
    assert counted == expected > 0


def test_large_rows_and_targets_read_the_result():
    scaling = pd.DataFrame(
        [{**bench.LARGE, "backend": b, "peak_mb": mb} for b, mb in (("reference", np.nan), ("numpy", 2.0), ("jax", 1.0))]
        + [{"n_products": 10, "n_sessions": 100, "n_candidates": 5, "backend": "numpy", "peak_mb": 9.0}]
    )
    result = {
        "published": [{"setting": "k5", "backend": b, "speedup": s, "steps_per_s": 10 * s}
                      for b, s in (("reference", 1.0), ("numpy", 30.0), ("jax", 40.0))],
        "batched": [{"bare_ratio": 3.0, "env_steps_per_s": 2000.0}, {"bare_ratio": 2.5, "env_steps_per_s": 1500.0}],
        "scaling": scaling.to_dict(orient="records"),
    }
    assert bench.targets(result) == {
        "numpy_over_reference_k5": 30.0,
        "jax_over_reference_k5": 40.0,
        "jax_batched_over_reference_k5": 200.0,
        "bare_over_batched_at_largest_batch": 2.5,
        "n1000_m100_k5_peak_mb": 2.0,
    }


def test_bench_command_is_registered():
    args = cli.build_parser().parse_args(["bench", "--quick", "-o", "out.json"])
    assert args.quick and args.output == "out.json" and args.func is cli._bench
