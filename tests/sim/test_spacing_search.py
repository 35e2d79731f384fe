"""The bucketed search of the jax market backend counts exactly what a plain search counts.

:func:`~phantom_lib.sim.samplers.jax.counts_below` starts each count from a bucket index of its
spacing block; these tests hold it equal to numpy's ``searchsorted`` (the definition, #{j < n :
S_j < t}) on blocks with ties, targets on bucket edges, beyond the last sum, zero, negative and
NaN, and on blocks whose last (catch-all) bucket is wide, and check the index and the number of
bisection steps by hand.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from phantom_lib.sim.samplers import jax as jax_backend
from phantom_lib.sim.samplers.jax import SPACING_BUCKET, counts_below, index_buckets, spacing_blocks


def _expected(sums: np.ndarray, block: np.ndarray, size: np.ndarray, target: np.ndarray) -> np.ndarray:
    """#{j < size : S_j < target} by numpy, the definition (NaN compares false: 0)."""
    out = np.empty(block.size, dtype=np.int64)
    for i, (b, n, t) in enumerate(zip(block, size, target)):
        out[i] = 0 if np.isnan(t) else np.searchsorted(sums[b, :n], t, side="left")
    return out


def _check(sums: np.ndarray, block: np.ndarray, size: np.ndarray, target: np.ndarray) -> None:
    spacings = spacing_blocks(jnp.asarray(sums, jnp.float32))
    got = jax.jit(counts_below)(spacings, jnp.asarray(block, jnp.int32), jnp.asarray(size, jnp.int32),
                                jnp.asarray(target, jnp.float32))
    np.testing.assert_array_equal(np.asarray(got), _expected(sums, block, size, target))


def test_the_index_and_its_steps_by_hand():
    """One block of sums (0.25, 0.5, 0.5, 0.99, 1, 2.5) x the bucket width: the buckets hold 4, 1
    and 1 sums, so the index reads 0, 4, 5 and then 6 up to R and W, and the widest bucket (4
    sums) needs 3 bisection steps."""
    sums = np.array([[0.25, 0.5, 0.5, 0.99, 1.0, 2.5]], np.float32) * SPACING_BUCKET
    spacings = spacing_blocks(jnp.asarray(sums))
    buckets = index_buckets(6)
    assert buckets >= 2
    np.testing.assert_array_equal(np.asarray(spacings.index)[0], [0, 4, 5] + [6] * (buckets - 1))
    assert int(spacings.fine_steps) == 3


def test_equals_the_plain_count_on_walked_blocks_and_awkward_targets():
    """Exp(1) partial sums as the pool walks them; every size, targets at random, on bucket
    edges, on the sums themselves (ties with S_j), past the last sum, 0, negative and NaN."""
    rng = np.random.default_rng(0)
    sums = np.cumsum(rng.exponential(size=(7, 301)), axis=1).astype(np.float32)
    n = 4000
    block = rng.integers(0, 7, n)
    size = rng.integers(0, 302, n)
    target = (rng.uniform(0, 1.05, n) * sums[block, np.minimum(size, 300)]).astype(np.float32)
    target[::7] = np.floor(target[::7] / SPACING_BUCKET) * SPACING_BUCKET  # bucket edges
    pick = rng.integers(0, 301, n)
    target[1::7] = sums[block, pick][1::7]  # equal to a sum
    target[2::7] = sums[block, -1][2::7] * 2  # past everything
    target[3::50], target[4::50], target[5::50] = 0.0, -1.0, np.nan
    _check(sums, block, size, target)


def test_ties_and_a_wide_last_bucket():
    """Repeated sums (a float32 partial sum that an Exp(1) draw below its resolution does not
    move) and a block whose sums run far past R buckets: the catch-all bucket is then the widest
    and the steps grow to resolve it, so the count stays exact."""
    width = 63
    ties = (np.repeat(np.arange(21, dtype=np.float32), 3) * SPACING_BUCKET / 4)[None, :]  # each value 3 times
    far = (np.arange(width, dtype=np.float32) * 4 * SPACING_BUCKET)[None, :]  # most sums past R buckets
    sums = np.concatenate([ties, far], axis=0)
    beyond = int((far >= index_buckets(width) * SPACING_BUCKET).sum())
    assert beyond > 40  # the catch-all bucket is the widest: 12 sums at most in any other
    rng = np.random.default_rng(1)
    block = rng.integers(0, 2, 2000)
    size = rng.integers(0, width + 1, 2000)
    on_ties = rng.integers(0, 21, 2000) * SPACING_BUCKET / 4
    target = np.where(block == 0, on_ties, rng.uniform(0, 1.1, 2000) * far[0, -1]).astype(np.float32)
    _check(sums, block, size, target)
    assert int(spacing_blocks(jnp.asarray(sums)).fine_steps) == int(np.ceil(np.log2(beyond + 1)))


def test_batched_pools_search_with_their_own_steps():
    """Under vmap each pool has its own index and number of steps (a batch of trials with their
    own pools): the counts equal each pool's counts alone."""
    rng = np.random.default_rng(2)
    pools = np.stack([np.cumsum(rng.exponential(size=(3, 200)), axis=1),
                      np.repeat(np.arange(50.0), 4)[None, :].repeat(3, 0)]).astype(np.float32)
    block, size = rng.integers(0, 3, (2, 500)), rng.integers(0, 200, (2, 500))
    target = rng.uniform(0, 210, (2, 500)).astype(np.float32)
    together = jax.vmap(lambda s, b, n, t: counts_below(spacing_blocks(s), b, n, t))(
        jnp.asarray(pools), jnp.asarray(block, jnp.int32), jnp.asarray(size, jnp.int32), jnp.asarray(target))
    for i in range(2):
        np.testing.assert_array_equal(np.asarray(together[i]), _expected(pools[i], block[i], size[i], target[i]))


@pytest.mark.parametrize("n_products", [2, 10])
def test_multinomial_counts_add_up_to_their_sizes(n_products):
    """Every spacing multinomial's counts are >= 0 and sum to its size (up to n_max)."""
    rng = np.random.default_rng(n_products)
    sums = jnp.cumsum(jax.random.exponential(jax.random.key(0), (16, 101)), axis=1)
    n = jnp.asarray(rng.integers(0, 101, (2, 3, 4)), jnp.int32)
    condition = jnp.asarray(rng.dirichlet(np.ones(n_products), 2), jnp.float32)
    counts = np.asarray(jax_backend.spacing_multinomials(jax.random.key(1), n, condition, spacing_blocks(sums)))
    assert (counts >= 0).all()
    np.testing.assert_array_equal(counts.sum(-1), np.asarray(n))
