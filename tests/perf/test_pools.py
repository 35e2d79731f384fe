"""The pool-size measurement's design: common random numbers across block counts, and its bookkeeping."""

import numpy as np
import pytest
from _simulator_cases import behaviour

from phantom_lib.perf import pools
from phantom_lib.sim import jax_env
from phantom_lib.sim.config import EnvConfig
from phantom_lib.sim.samplers import jax as jax_backend

TINY = EnvConfig(eps_alpha=0.0, n_candidates=1, max_steps=5).replace(n_products=3, n_sessions=10)


@pytest.fixture(scope="module")
def beh():
    return behaviour()


def test_pools_of_different_block_counts_walked_from_one_key_hold_the_same_paths(beh):
    """Only the spacing blocks differ between B = 16 and B = 64, so a comparison of the two is paired."""
    env, params = jax_env.make(TINY, beh, pool_paths=256, pool_blocks=16)
    walked = []
    for blocks in (16, 64):
        shape = env.pool._replace(blocks=blocks)
        walked.append(jax_backend.walk_pool(jax_env.make_key(3), params.market, shape, TINY.market.max_len, env.end))
    small, large = walked
    assert np.array_equal(small.f_prefix, large.f_prefix) and np.array_equal(small.count_prefix, large.count_prefix)
    assert small.spacings.sums.shape[0] == 16 and large.spacings.sums.shape[0] == 64


def test_evaluation_variance_rows_follow_their_definitions(beh):
    frame = pools.evaluation_variance(TINY, beh, [64, 8], pools=6, episodes=3, n_boot=50)
    again = pools.evaluation_variance(TINY, beh, [64, 8], pools=6, episodes=3, n_boot=50)
    assert frame.equals(again)  # seeded: the same numbers twice
    means = {b: pools.pool_means(TINY, beh, b, pools=6, episodes=3) for b in (64, 8)}
    for row in frame.itertuples():
        total = means[row.blocks].mean(axis=1)
        assert row.variance == pytest.approx(total.var(ddof=1))
        assert row.independent == pytest.approx(means[row.blocks].var(axis=1, ddof=1).mean() / 3)
        assert row.ratio == pytest.approx(row.variance / row.independent)
    assert frame.loc[0, "minus_first"] == 0 and frame.loc[0, "minus_first_se"] == 0
    assert frame.loc[1, "minus_first"] == pytest.approx(frame.loc[1, "variance"] - frame.loc[0, "variance"])
    assert np.isfinite(frame.to_numpy(dtype=float)).all()
