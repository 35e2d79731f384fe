"""The functional jax env and its pooled market (Model reference, sections 6 and 11).

What the batched env promises beyond the sampler's distribution tests (``test_samplers``,
``test_switches``): the class split computed inside jit equals the host's, one compiled step
serves environments that differ in alpha0, eps_alpha and lambda_coi, draws from a shared pool
keep the exact distribution while depending on each other only as much as claimed (and a larger
pool shrinks that), and out-of-range actions are clipped in the pure step and refused by the
host drivers. Shapes are small and compiled functions shared, to keep compile time down.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _checks import ALPHA, chi2_same, same_distribution
from _simulator_cases import behaviour

from phantom_lib.sim import jax_env
from phantom_lib.sim.config import EnvConfig
from phantom_lib.sim.dynamics import candidate_shares
from phantom_lib.sim.gym_env import PhantomPricingEnv
from phantom_lib.sim.market import MarketConfig, agents_in_split
from phantom_lib.sim.samplers import jax as jax_backend
from phantom_lib.sim.samplers.numpy import PerStateSampler

SMALL = {"n_products": 3, "n_sessions": 10}
PRICES = np.array([40.0, 55.0, 70.0])


@pytest.fixture(scope="module")
def beh():
    return behaviour()


@pytest.fixture(scope="module")
def small(beh):
    """One functional env (K = 5, M = 10, N = 3) and its compiled, vmapped step."""
    env, params = jax_env.make(EnvConfig(eps_alpha=0.2).replace(**SMALL), beh, pool_paths=256, pool_blocks=64)
    step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, 0)))
    return env, params, step


def test_class_split_inside_jit_equals_the_hosts():
    grid = [(a0, eps, k, m) for a0 in (0.0, 0.1, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.9, 1.0)
            for eps in (0.0, 0.15, 0.2, 0.3) for k in (1, 3, 5, 9) for m in (7, 10, 100)]
    for k in (1, 3, 5, 9):
        rows = [g for g in grid if g[2] == k]
        a0 = jnp.asarray([g[0] for g in rows], jnp.float32)
        eps = jnp.asarray([g[1] for g in rows], jnp.float32)
        shares = jax.vmap(lambda a, e: candidate_shares(jnp, a, e, k))(a0, eps)
        for i, (alpha0, eps_alpha, _, m) in enumerate(rows):
            host = EnvConfig(alpha0=alpha0, eps_alpha=eps_alpha, n_candidates=k).candidates
            active = np.ones(k, bool) if shares.active is None else np.asarray(shares.active[i])
            got = np.asarray(jax_backend.n_agents_of(shares.alphas[i], m))[active]
            np.testing.assert_array_equal(got, agents_in_split(m, host), err_msg=str((alpha0, eps_alpha, k, m)))
            np.testing.assert_allclose(np.asarray(shares.alphas[i])[active], host, atol=1e-7)


def _stack(*trees):
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def test_one_compiled_step_serves_different_alpha0_eps_and_lambda(beh, small):
    env, params, step = small
    configs = [dict(alpha0=0.3, eps_alpha=0.0, lambda_coi=0.15), dict(alpha0=0.6, eps_alpha=0.3, lambda_coi=0.3)]
    singles = [jax_env.make(EnvConfig(**c).replace(**SMALL), beh, pool_paths=256, pool_blocks=64)[1] for c in configs]
    for p in singles:  # the same pool (seed 0) and market: only the step numbers differ
        assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), p.pool, params.pool))
    keys = jax.random.split(jax.random.key(7), 2)
    _, states = jax.vmap(env.reset)(keys, _stack(*singles))
    batched = step(keys, states, jnp.array([3, 6]), _stack(*singles))
    for i, p in enumerate(singles):
        one = jax.jit(env.step)(keys[i], jax.tree.map(lambda x: x[i], states), jnp.int32([3, 6][i]), p)
        np.testing.assert_allclose(np.asarray(batched[0][i]), np.asarray(one[0]), rtol=1e-6)
        assert float(batched[2][i]) == pytest.approx(float(one[2]), rel=1e-6)
    rewards = np.asarray(batched[5]["candidate_rewards"])
    assert np.isinf(rewards[0, 1:]).all() and np.isfinite(rewards[1]).all()  # eps 0: only alpha0 is scored
    assert np.asarray(batched[5]["alpha_adv"])[0] == pytest.approx(0.3)


def test_actions_out_of_range_are_clipped_in_the_pure_step(small):
    env, params, _ = small
    key = jax.random.key(3)
    _, state = env.reset(key, params)
    step = jax.jit(env.step)
    for outside, edge in ((99, 8), (9, 8), (-1, 0), (-50, 0)):
        a, b = step(key, state, jnp.int32(outside), params), step(key, state, jnp.int32(edge), params)
        np.testing.assert_array_equal(np.asarray(a[0]), np.asarray(b[0]))


@pytest.mark.parametrize("backend", ["numpy", "jax"])
@pytest.mark.parametrize("action", [9, -1, 2.5, True, "3", np.array([1, 2])])
def test_host_drivers_refuse_actions_out_of_range(beh, backend, action):
    env = PhantomPricingEnv(EnvConfig(backend=backend), beh, **SMALL)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must be an integer in \[0, 9\)"):
        env.step(action)


def test_host_env_refuses_out_of_range_actions(beh):
    host = jax_env.HostEnv(EnvConfig().replace(**SMALL), beh)
    host.reset(0)
    with pytest.raises(ValueError, match=r"\[0, 9\)"):
        host.step(12)
    assert len(host.step(np.int64(8))) == 6


def test_refresh_walks_a_new_pool_and_keys_reproduce(small):
    env, params, _ = small
    fresh = jax.jit(env.refresh)(jax.random.key(5), params)
    again = jax.jit(env.refresh)(jax.random.key(5), params)
    assert not np.array_equal(np.asarray(fresh.pool.count_prefix), np.asarray(params.pool.count_prefix))
    np.testing.assert_array_equal(np.asarray(fresh.pool.spacings.sums), np.asarray(again.pool.spacings.sums))
    assert fresh.pool.f_prefix.dtype == jnp.uint32 and fresh.pool.count_prefix.shape == params.pool.count_prefix.shape


# --------------------------------------------------------------------------------------------
# draws from a shared pool: exact marginals, dependence as claimed


def _pooled_draws(beh, paths, blocks, n_pools, seed, alpha):
    """Two market draws (K = 1) at share ``alpha`` from each of ``n_pools`` independent pools."""
    config = MarketConfig(**SMALL)
    arrays = jax_backend.market_arrays(beh, config)
    shape = jax_backend.PoolShape.of(config, 1, paths, blocks)
    demand = jnp.asarray([[30.0, 30.0, 40.0], [10.0, 20.0, 70.0]])
    alphas = jnp.asarray([alpha])

    def two(key):
        k_pool, k1, k2 = jax.random.split(key, 3)
        pool = jax_backend.walk_pool(k_pool, arrays, shape, config.max_len, beh.end)
        draw = lambda k: jax_backend.market_draw(k, demand, alphas, arrays, pool, shape, config.n_sessions, "share")  # noqa: E731
        return draw(k1), draw(k2)

    first, second = jax.jit(jax.vmap(two))(jax.random.split(jax.random.key(seed), n_pools))
    return jax.tree.map(np.asarray, first), jax.tree.map(np.asarray, second)


def test_draws_from_a_shared_pool_keep_the_per_state_distribution(beh):
    """Second draws from pools of 16 paths (whose windows of 7 human and 3 agent sessions overlap
    the first draw's) against the per-state sampler: marginally exact all the same."""
    _, second = _pooled_draws(beh, 16, 16, 3000, seed=1, alpha=0.3)
    base = PerStateSampler(beh, MarketConfig(**SMALL))
    rng = np.random.default_rng(0)
    demand = np.array([[30.0, 30.0, 40.0], [10.0, 20.0, 70.0]])
    ref = [base.sample_at(demand, [0.3], rng) for _ in range(3000)]
    assert same_distribution(second[1][:, 0], [r.f[0] for r in ref])
    for i in range(3):
        assert same_distribution(second[0][:, 0, i], [r.q[0, i] for r in ref]), i
    assert chi2_same(second[2][:, 0] // 10, np.array([r.n_states[0] for r in ref]) // 10) > ALPHA


def _window_correlation(pool: int, window: int) -> float:
    offsets = np.arange(pool - window + 1)
    overlap = np.maximum(0, window - np.abs(offsets[:, None] - offsets[None, :]))
    return float(overlap.mean() / window)


def test_shared_pool_dependence_is_as_claimed_and_shrinks_with_the_pool(beh):
    """Sessions: the states totals of two draws from one pool (alpha 0: W = 10 human sessions)
    correlate by E[overlap] / W: about 0.56 with 16 paths, about 0.01 with 1024. The pools hold
    i.i.d. per-path totals (what a walked pool holds), so many large pools stay cheap."""
    config = MarketConfig(**SMALL)
    arrays = jax_backend.market_arrays(beh, config)
    demand = jnp.full((2, 3), 100 / 3)
    for size in (16, 1024):
        shape = jax_backend.PoolShape.of(config, 1, size, 4)

        def two(key):
            k_states, k_blocks, k1, k2 = jax.random.split(key, 4)
            per_path = jnp.zeros((2, size, 6), jnp.int32).at[..., 1].set(jax.random.randint(k_states, (2, size), 0, 25))
            pool = jax_backend.Pool(jnp.zeros((2, size + 1), jnp.uint32), jax_backend._prefix(per_path),
                                    jax_backend.spacing_blocks(
                                        jnp.cumsum(jax.random.exponential(k_blocks, (4, shape.n_max + 1)), axis=1)))
            draw = lambda k: jax_backend.market_draw(k, demand, jnp.zeros(1), arrays, pool, shape, 10, "share")[2][0]  # noqa: E731
            return draw(k1), draw(k2)

        first, second = jax.jit(jax.vmap(two))(jax.random.split(jax.random.key(size), 4000))
        corr = np.corrcoef(np.asarray(first), np.asarray(second))[0, 1]
        claimed = _window_correlation(size, 10)
        assert abs(corr - claimed) < 4 * (1 - claimed**2) / np.sqrt(4000), (size, corr, claimed)
    assert _window_correlation(16, 10) > 0.5 > 0.02 > _window_correlation(1024, 10)


def test_spacing_blocks_are_shared_with_probability_one_over_b():
    """Two multinomials of the same size and condition from one set of B blocks coincide exactly
    when they use the same block (probability 1/B) and are independent otherwise: their
    correlation is 1/B (B = 4: 0.25; B = 64: about 0.016)."""
    n = jnp.asarray([[[25]], [[25]]], jnp.int32)  # 2 slots
    condition = jnp.asarray([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])

    def pair(key, blocks):
        k_blocks, k1, k2 = jax.random.split(key, 3)
        spacings = jax_backend.spacing_blocks(jnp.cumsum(jax.random.exponential(k_blocks, (blocks, 26)), axis=1))
        draw = lambda k: jax_backend.spacing_multinomials(k, n, condition, spacings)[0, 0, 0]  # noqa: E731
        return draw(k1), draw(k2)

    for blocks in (4, 64):
        a, b = jax.jit(jax.vmap(lambda k: pair(k, blocks)))(jax.random.split(jax.random.key(blocks), 6000))
        counts = np.asarray(a)
        assert (counts.sum(axis=1) == 25).all()
        corr = np.corrcoef(counts[:, 0], np.asarray(b)[:, 0])[0, 1]
        assert abs(corr - 1 / blocks) < 4 / np.sqrt(6000), (blocks, corr)


def test_spacing_multinomials_are_multinomial():
    """Counts from uniform spacings against scipy's multinomial pmf (chi-square, 20,000 draws)."""
    from scipy import stats

    n = jnp.asarray([[[6]], [[6]]], jnp.int32)
    condition = jnp.asarray([[0.2, 0.3, 0.5], [0.0, 0.25, 0.75]])

    def one(key):
        k_blocks, k = jax.random.split(key)
        spacings = jax_backend.spacing_blocks(jnp.cumsum(jax.random.exponential(k_blocks, (2, 7)), axis=1))
        return jax_backend.spacing_multinomials(k, n, condition, spacings)[:, 0, 0]

    draws = np.asarray(jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(0), 20000)))
    for y in range(2):
        observed = {tuple(row): 0 for row in draws[:, y]}
        for row in draws[:, y]:
            observed[tuple(row)] += 1
        outcomes = list(observed)
        expected = np.array([stats.multinomial.pmf(o, 6, np.asarray(condition[y])) for o in outcomes]) * len(draws)
        assert stats.chisquare(list(observed.values()), expected * len(draws) / expected.sum()).pvalue > ALPHA
        if y == 1:
            assert all(o[0] == 0 for o in outcomes)  # a product with c = 0 never gets a state


def test_the_spacing_cap_sets_the_default_block_count(beh):
    """B = cap / (4 (M L_max + 1)) bytes per block, at most POOL_BLOCKS: at M = 100 a cap of 8 MB
    gives 524 blocks and one of 64 MB 4,096."""
    config = EnvConfig(eps_alpha=0.0, n_candidates=1).replace(n_products=3, n_sessions=100)
    width = 100 * config.market.max_len + 1
    blocks = {mb: jax_env.make(config, beh, pool_paths=256, spacing_mb=mb)[0].pool.blocks for mb in (8.0, 64.0)}
    assert blocks == {8.0: int(8 * 2**20 / (4 * width)), 64.0: jax_env.POOL_BLOCKS} and blocks[8.0] == 524
    assert jax_env.make(config, beh, pool_paths=256)[0].pool.blocks == blocks[jax_env.POOL_SPACING_MB]
