"""What the spacing pool's size costs in dependence: the variance of an evaluation's mean reward
across pools, for several block counts B (Model reference, section 11).

Draws from one pool share its B spacing blocks: two multinomials of different draws use the same
block with probability about 1/B, and then their uniforms coincide. A smaller pool is faster to
walk and to search, and adds dependence between the draws of one rollout, which would show as a
larger variance of averages over many draws. :func:`evaluation_variance` measures that variance
where the study uses it (one pool per trial, a rollout of many steps), with common random numbers:
pool ``r`` has the same paths and the same step keys at every B (``walk_pool`` draws the paths and
the spacings from separate keys), so only the spacing blocks differ between the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from phantom_lib.behaviour.model import Behaviour
from phantom_lib.sim.config import EnvConfig


def pool_means(
    config: EnvConfig, behaviour: Behaviour, blocks: int, pools: int, episodes: int = 10, action: int | None = None,
    seed: int = 0,
) -> Any:
    """Mean reward per episode under a fixed action, for ``pools`` pools of ``blocks`` blocks.

    Every episode starts from the same reset (same prices); episode e of pool r uses the same step
    keys at every ``blocks``. Returns float64 (pools, episodes), reward units.
    """
    import jax
    import jax.numpy as jnp

    from phantom_lib.sim import jax_env

    env, params = jax_env.make(config, behaviour, pool_blocks=blocks, seed=seed)
    level = jnp.int32(config.action_levels // 2 if action is None else action)
    start_key = jax.random.key(seed)

    def one(pool_key: Any, key: Any) -> Any:
        pooled = env.refresh(pool_key, params)
        _, start = env.reset(start_key, pooled)

        def episode(_: None, k: Any) -> tuple[None, Any]:
            def step(state: Any, step_key: Any) -> tuple[Any, Any]:
                _, state, reward, *_ = env.step(step_key, state, level, pooled)
                return state, reward

            _, rewards = jax.lax.scan(step, start, jax.random.split(k, config.max_steps))
            return None, rewards.mean()

        return jax.lax.scan(episode, None, jax.random.split(key, episodes))[1]

    run = jax.jit(jax.vmap(one))
    per_call = max(1, 2**30 // (blocks * 4 * (env.pool.n_max + 1)))  # about 1 GB of spacing blocks per call
    means = []
    for first in range(0, pools, per_call):
        ids = jnp.arange(first, min(pools, first + per_call))
        pool_keys = jax.vmap(jax_env.make_key)(ids + seed * pools + 1)
        step_keys = jax.vmap(jax.random.key)(ids + seed * pools + 1)
        means.append(np.asarray(run(pool_keys, step_keys), dtype=float))
    return np.concatenate(means)


def evaluation_variance(
    config: EnvConfig, behaviour: Behaviour, blocks: Sequence[int], pools: int = 256, episodes: int = 10,
    action: int | None = None, n_boot: int = 2000, seed: int = 0,
) -> pd.DataFrame:
    """Variance across pools of the mean reward of ``episodes`` episodes, one row per B in ``blocks``.

    Columns: ``blocks``; ``mean``, the mean reward over every pool's episodes (reward units);
    ``variance`` of the (episodes * max_steps)-step mean across pools and its
    bootstrap standard error ``variance_se`` (resampling pools); ``independent``: the variance that
    mean would have if the episodes of one pool were independent (mean within-pool variance of an
    episode's mean / episodes), and ``ratio`` = variance / independent; ``minus_first`` and its
    ``minus_first_se``: variance minus the first row's, bootstrapped over the same pools (paired).
    """
    per_blocks = {b: pool_means(config, behaviour, b, pools, episodes, action, seed) for b in blocks}
    rng = np.random.default_rng(seed)
    resamples = rng.integers(0, pools, (n_boot, pools))
    first = per_blocks[blocks[0]].mean(axis=1)
    rows = []
    for b, means in per_blocks.items():
        total = means.mean(axis=1)
        variance = total.var(ddof=1)
        boot = total[resamples].var(axis=1, ddof=1)
        paired = boot - first[resamples].var(axis=1, ddof=1)
        independent = means.var(axis=1, ddof=1).mean() / episodes
        rows.append({
            "blocks": b, "mean": total.mean(), "variance": variance, "variance_se": boot.std(ddof=1),
            "independent": independent, "ratio": variance / independent,
            "minus_first": variance - first.var(ddof=1), "minus_first_se": paired.std(ddof=1),
        })
    return pd.DataFrame(rows)
