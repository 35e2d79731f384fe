"""Benchmark the simulator side by side (``phantom bench``).

Measured in one process, so that ratios hold on a shared, noisy machine:

* **published**: steps/s and sampled session states/s of one :class:`PhantomPricingEnv` per
  engine at the published profiling configuration (M = 10 sessions, N = 3 products; K = 1 with
  eps 0 and K = 5 with eps 0.2, Model reference, section 8), repeats interleaved across engines.
  The engines (:data:`ENGINES`) are the three backends plus two numpy variants: one product per
  sampled state (:class:`~phantom_lib.sim.samplers.numpy.PerStateSampler`, what the numpy
  backend did before the sufficient statistics of Model reference, section 11: the "before" of
  the numpy before/after ratio) and paths reused ``MarketConfig.path_reuse`` times;
* **batched**: the functional jax env (:mod:`phantom_lib.sim.jax_env`) vmapped over many
  environments in a jit-compiled ``lax.scan`` rollout (threefry keys), at the published
  configuration (K = 5) and at the study's (M = 100, N = 10, K = 5), run by 1 and 2 worker
  threads (each its own batch; XLA releases the GIL, so two workers can use two cores), with the
  time to walk a fresh pool (what a refresh per rollout costs);
* **scaling**: steps/s and peak memory as N, M and K grow one at a time from the default
  configuration (N = 10, M = 100, K = 5). Peak memory is tracemalloc's peak over a seeded
  reset and one step for the numpy-backed envs (the numpy path pools refill there, so this is
  the worst step) and XLA's buffer assignment for the compiled step (argument + output +
  temporaries; jax). The reference backend is not run where one expanded
  frame would exceed ``reference_memory_mb`` or a step is predicted (linearly from the last
  point on the axis) to exceed ``reference_seconds``; the row says which.

Timings exclude warm-up (compilation, first calls), synchronise jax results
(``block_until_ready``, or a host transfer) and report the median over repeats. Each repeat of
an env runs at least ``min_seconds``: the numpy backend walks its sessions ahead in blocks
(``samplers.numpy.POOL_BLOCK`` per class), and a repeat of a few hundred steps can fall between
two refills, so its median would leave out the walking the backend must do. Nothing here
fails on slowness: the command writes the numbers (JSON) and prints tables beside the original
engine's published figures (:data:`phantom_lib.published.PROFILE`). The module is over 500
lines because its sections share the timing helpers and one result format.
"""

from __future__ import annotations

import cProfile
import math
import os
import platform
import pstats
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from phantom_lib._validation import (
    Each,
    Integer,
    Real,
    Satisfies,
    Text,
    Validated,
    integer,
)
from phantom_lib.behaviour.model import Behaviour, load_behaviour
from phantom_lib.perf.rounds import interleaved, round_ratios, spread, with_load
from phantom_lib.published import PROFILE, PROFILE_MARKET
from phantom_lib.sim.config import EnvConfig
from phantom_lib.sim.gym_env import PhantomPricingEnv
from phantom_lib.sim.samplers import BACKENDS
from phantom_lib.sim.samplers.numpy import PerStateSampler

LOOKUP_FUNCTIONS = ("xs", "to_numpy", "nan_to_num")
"""The calls that turn a state label into a probability row in the reference backend."""

LOOKUP_PART = "per-state row lookup (xs, to_numpy, nan_to_num)"
"""The breakdown entry of :data:`LOOKUP_FUNCTIONS` called by the session loop."""

SCALING_BASE = {"n_products": 10, "n_sessions": 100, "n_candidates": 5, "eps_alpha": 0.15}

LARGE = {"n_products": 1000, "n_sessions": 100, "n_candidates": 5}
"""The issue's large configuration: it must run (factorised backends) under 200 MB."""

PER_STATE = "numpy-per-state"
REUSED = "numpy-reused"
ENGINES = ("reference", PER_STATE, "numpy", REUSED, "jax")
"""Single-env engines of the published comparison: the backends, the numpy backend with one
product per state (before the sufficient statistics) and with paths reused."""

BATCHED_CONFIGS = {
    "profile": {
        **PROFILE_MARKET,
        "n_candidates": int(PROFILE["k5"]["n_candidates"]),
        "eps_alpha": PROFILE["k5"]["eps_alpha"],
    },
    "study": dict(SCALING_BASE),
}
"""Configurations of the batched jax env: the published profile's (M = 10, N = 3, K = 5) and the study's."""


@dataclass(frozen=True)
class BenchConfig(Validated):
    """What ``phantom bench`` measures and how long it may take.

    Attributes:
        repeats: timed repeats per measurement (the median is reported).
        steps: env steps per timed repeat, per engine of :data:`ENGINES` (at least; see ``min_seconds``).
        min_seconds: a timed env repeat goes on past ``steps`` until this much time has passed,
            so that work a backend does in blocks (the numpy path pools) is in every repeat.
        path_reuse: ``MarketConfig.path_reuse`` of the :data:`REUSED` engine.
        batch_sizes: numbers of vmapped jax environments per worker.
        workers: numbers of worker threads running batched rollouts at once.
        batch_steps: steps per batched rollout.
        n_products, n_sessions, n_candidates: scaling axes (one varies, the others at
            :data:`SCALING_BASE`, whose value every axis includes).
        scaling_steps: env steps per timed repeat in the scaling sweeps (reference: at most 2).
        reference_memory_mb: the reference is not run when one expanded frame exceeds this.
        reference_seconds: the reference stops on an axis once a step is predicted to exceed this
            (the last measured step time scaled by the growth of M * K).
        training_steps: budgets of the JAX PPO vs SB3 PPO comparison (:func:`ppo_versus_sb3`).
        training_batch: trials in each JAX PPO batch (seeds of one cell; cells of one seed).
        training_rounds: its interleaved rounds.
        seed: seeds every environment and key.
        data_source: the data the market behaviour is estimated from (``"standin"`` or a path).
    """

    repeats: int = 5
    steps: dict[str, int] = field(
        default_factory=lambda: {"reference": 20, PER_STATE: 200, "numpy": 400, REUSED: 400, "jax": 400}
    )
    min_seconds: float = 0.5
    path_reuse: int = 16
    batch_sizes: tuple[int, ...] = (64, 256, 1024, 4096)
    workers: tuple[int, ...] = (1, 2)
    batch_steps: int = 20
    n_products: tuple[int, ...] = (3, 10, 30, 100, 300, 1000)
    n_sessions: tuple[int, ...] = (10, 30, 100, 300, 1000)
    n_candidates: tuple[int, ...] = (1, 3, 5, 7, 9)
    scaling_steps: int = 20
    reference_memory_mb: float = 200.0
    reference_seconds: float = 5.0
    training_steps: tuple[int, ...] = (8192, 32768)
    training_batch: int = 16
    training_rounds: int = 3
    seed: int = 0
    data_source: str = "standin"

    _parameter_constraints = {
        "repeats": (Integer(low=1),),
        "training_batch": (Integer(low=1),),
        "training_rounds": (Integer(low=1),),
        "training_steps": (Each(Integer(low=1)),),
        "path_reuse": (Integer(low=1),),
        "batch_steps": (Integer(low=1),),
        "scaling_steps": (Integer(low=1),),
        "steps": (Satisfies(lambda s: isinstance(s, dict) and set(s) == set(ENGINES)
                            and all(integer("", "", v, low=1) is None for v in s.values()),
                            f"a count >= 1 for each of {ENGINES}", bad={}),),
        "min_seconds": (Real(low=0),),
        "batch_sizes": (Each(Integer(low=1)),),
        "workers": (Each(Integer(low=1)),),
        "n_products": (Each(Integer(low=1)),),
        "n_sessions": (Each(Integer(low=1)),),
        "n_candidates": (Each(Integer(low=1)),),
        "reference_memory_mb": (Real(low=0, low_open=True),),
        "reference_seconds": (Real(low=0, low_open=True),),
        "seed": (Integer(low=0),),
        "data_source": (Text("'standin' or the path of a whoclicked.csv file"),),
    }

    @classmethod
    def quick(cls) -> BenchConfig:
        """A run of a minute or two: fewer repeats, steps, batch sizes, scaling points and training steps."""
        return cls(
            repeats=3,
            steps={"reference": 3, PER_STATE: 60, "numpy": 120, REUSED: 120, "jax": 120},
            min_seconds=0.25,
            batch_sizes=(1024,),
            batch_steps=5,
            n_products=(1000,),
            n_sessions=(1000,),
            n_candidates=(9,),
            scaling_steps=3,
            reference_seconds=1.0,
            training_steps=(2048,),
            training_batch=4,
            training_rounds=2,
        )


def _env(
    engine: str, behaviour: Behaviour, seed: int, path_reuse: int = BenchConfig.path_reuse, **fields: Any
) -> PhantomPricingEnv:
    """A reset env of ``engine`` (one of :data:`ENGINES`, or a backend) with config ``fields``."""
    if engine == REUSED:
        fields["path_reuse"] = path_reuse
    config = EnvConfig(backend=engine if engine in BACKENDS else "numpy").replace(**fields)
    sampler = PerStateSampler(behaviour, config.market) if engine == PER_STATE else None
    env = PhantomPricingEnv(config, behaviour, sampler=sampler)
    env.reset(seed=seed)
    return env


def _timed_steps(
    env: PhantomPricingEnv, steps: int, actions: np.ndarray, min_seconds: float = 0.0
) -> tuple[float, int, int]:
    """Time env steps (resetting when an episode ends) until at least ``steps`` were taken and
    ``min_seconds`` have passed; returns ``(seconds, steps taken, session states sampled)``."""
    states = 0
    taken = 0
    start = time.perf_counter()
    while taken < steps or time.perf_counter() - start < min_seconds:
        _, _, terminated, truncated, info = env.step(int(actions[taken % actions.size]))
        states += info["sampled_states"]
        taken += 1
        if terminated or truncated:
            env.reset()
    return time.perf_counter() - start, taken, states


def time_envs(envs: dict[str, PhantomPricingEnv], steps: dict[str, int], repeats: int, seed: int,
              min_seconds: float = 0.0) -> dict[str, dict[str, Any]]:
    """Steps/s and sampled states/s per env over ``repeats`` interleaved rounds (:func:`interleaved`).

    A repeat takes at least ``steps[name]`` steps and at least ``min_seconds`` seconds. Returns per
    env the medians (``steps_per_s``, ``states_per_s``), the steps/s range (``steps_per_s_min``,
    ``steps_per_s_max``) and the per-round steps/s (``rounds``, for ratios within a round)."""
    actions = np.random.default_rng(seed).integers(0, 9, 997)
    states: dict[str, list[float]] = {name: [] for name in envs}
    for env in envs.values():  # warm-up: compilation, caches
        _timed_steps(env, 1, actions)

    def measure(name: str) -> Callable[[], float]:
        def once() -> float:
            seconds, taken, sampled = _timed_steps(envs[name], steps[name], actions, min_seconds)
            states[name].append(sampled / seconds)
            return taken / seconds
        return once

    rates = interleaved({name: measure(name) for name in envs}, repeats)
    return {name: {"steps_per_s": spread(rates[name])["median"], "steps_per_s_min": min(rates[name]),
                   "steps_per_s_max": max(rates[name]), "states_per_s": float(np.median(states[name])),
                   "rounds": rates[name]} for name in envs}


def published(config: BenchConfig, behaviour: Behaviour) -> pd.DataFrame:
    """Steps/s of every engine at the published configurations, with ratios to the reference
    and, for the numpy engines, to the numpy backend before the sufficient statistics (ratios
    formed within each round, then their median; ``speedup_min``/``_max``: their range)."""
    rows = []
    for setting, spec in PROFILE.items():
        fields = {**PROFILE_MARKET, "n_candidates": spec["n_candidates"], "eps_alpha": spec["eps_alpha"]}
        envs = {engine: _env(engine, behaviour, config.seed, config.path_reuse, **fields) for engine in ENGINES}
        rates = time_envs(envs, config.steps, config.repeats, config.seed, config.min_seconds)
        for engine in ENGINES:
            speedup = round_ratios(rates[engine]["rounds"], rates["reference"]["rounds"])
            rows.append(
                {
                    "setting": setting,
                    "K": spec["n_candidates"],
                    "eps": spec["eps_alpha"],
                    "backend": engine,
                    **{k: v for k, v in rates[engine].items() if k != "rounds"},
                    "speedup": speedup["median"],
                    "speedup_min": speedup["min"],
                    "speedup_max": speedup["max"],
                    "over_per_state": round_ratios(rates[engine]["rounds"], rates[PER_STATE]["rounds"])["median"],
                    "published_steps_per_s": {
                        "reference": spec["steps_per_s"],
                        "jax": spec["optimised_steps_per_s"],
                    }.get(engine, math.nan),
                }
            )
    return pd.DataFrame(rows)


def _median_seconds(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median seconds of ``fn()`` over ``repeats`` calls after one warm-up call, and its last result."""
    result = fn()  # warm-up: compilation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def _in_threads(fn: Callable[[int], Any], workers: int) -> float:
    """Seconds to run ``fn(i)`` for i < ``workers``, each in its own thread, all at once."""
    threads = [threading.Thread(target=fn, args=(i,)) for i in range(workers)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def batched(config: BenchConfig, behaviour: Behaviour) -> pd.DataFrame:
    """Env steps/s of the vmapped functional jax env per configuration, batch size and number of
    worker threads (median and range over ``config.repeats`` rounds interleaved across all of
    them), with the seconds to compile a rollout and to walk a fresh pool."""
    import jax
    import jax.numpy as jnp

    from phantom_lib.sim import jax_env

    rows, variants = [], {}
    for name, fields in BATCHED_CONFIGS.items():
        env_config = EnvConfig().replace(**fields)
        env, params = jax_env.make(env_config, behaviour, seed=config.seed)
        refresh = jax.jit(env.refresh)
        pool_seconds, _ = _median_seconds(
            lambda: jax.block_until_ready(refresh(jax.random.key(config.seed), params)), config.repeats
        )
        _, start = jax.jit(env.reset)(jax.random.key(config.seed), params)
        rollout = jax.jit(batched_rollout, static_argnums=0)
        for batch in config.batch_sizes:
            # every env starts from one reset state (no per-batch reset to compile); their keys differ
            states = jax.tree.map(lambda leaf: jnp.broadcast_to(leaf, (batch,) + leaf.shape), start)
            actions = jnp.asarray(
                np.random.default_rng(config.seed).integers(0, env_config.action_levels, (config.batch_steps, batch)),
                jnp.int32,
            )
            keys = [jax.random.split(jax.random.key(config.seed + 1 + i), batch) for i in range(max(config.workers))]
            begin = time.perf_counter()
            jax.block_until_ready(rollout(env, keys[0], states, actions, params))
            compile_seconds = time.perf_counter() - begin
            for workers in config.workers:
                def work(i: int, env: Any = env, keys: Any = keys, states: Any = states, actions: Any = actions,
                         params: Any = params, rollout: Any = rollout) -> None:
                    jax.block_until_ready(rollout(env, keys[i], states, actions, params))

                steps = workers * batch * config.batch_steps
                variants[len(rows)] = lambda work=work, workers=workers, steps=steps: steps / _in_threads(work, workers)
                rows.append(
                    {
                        "config": name,
                        "N": env.n_products,
                        "M": env.n_sessions,
                        "K": env.n_candidates,
                        "envs": batch,
                        "workers": workers,
                        "compile_s": compile_seconds,
                        "pool_refresh_ms": 1e3 * pool_seconds,
                        "pool_paths": env.pool.paths,
                        "pool_blocks": env.pool.blocks,
                    }
                )
    rates = interleaved({str(i): measure for i, measure in variants.items()}, config.repeats)
    for i, row in enumerate(rows):
        summary = spread(rates[str(i)])
        row.update(
            env_steps_per_s=summary["median"], env_steps_per_s_min=summary["min"], env_steps_per_s_max=summary["max"]
        )
    return pd.DataFrame(rows)


def batched_rollout(env: Any, keys: Any, states: Any, actions: Any, params: Any) -> tuple[Any, Any, Any]:
    """``actions.shape[0]`` steps of ``keys.shape[0]`` environments (vmap) in one ``lax.scan``.

    Returns ``(keys, states, sampled session states in total)``.
    """
    import jax

    split = jax.vmap(jax.random.split)
    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def advance(carry: Any, action: Any) -> tuple[Any, Any]:
        keys, states = carry
        pairs = split(keys)
        _, states, _, _, _, info = step(pairs[:, 1], states, action, params)
        return (pairs[:, 0], states), info["sampled_states"].sum()

    (keys, states), sampled = jax.lax.scan(advance, (keys, states), actions)
    return keys, states, sampled.sum()


def _xla_megabytes(memory: Any) -> float:
    return (memory.argument_size_in_bytes + memory.output_size_in_bytes + memory.temp_size_in_bytes) / 2**20


def step_memory_mb(env: PhantomPricingEnv, action: int = 4, seed: int = 0) -> float:
    """Peak memory of one env step: XLA's buffers for jax; for numpy-backed envs tracemalloc's
    peak over a seeded reset and one step, so that the numpy backend's refill of its path pools
    (which a reseeded env empties) is counted: the worst step, not a typical one."""
    if env.config.backend == "jax":
        from phantom_lib.sim.jax_env import HostEnv

        return _xla_megabytes(HostEnv(env.config, env.behaviour).step_memory())
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        env.reset(seed=seed)
        env.step(action)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def frame_megabytes(behaviour: Behaviour, n_products: int) -> float:
    """Size of one expanded (E*N) x (E*N) float64 frame of the reference backend, in MB."""
    return (behaviour.n_states * n_products) ** 2 * 8 / 2**20


def _measure_config(
    config: BenchConfig, behaviour: Behaviour, fields: dict[str, Any], reference_status: str
) -> dict[str, dict[str, Any]]:
    """Steps/s, states/s and peak memory of each backend at one configuration."""
    backends = [b for b in BACKENDS if b != "reference" or reference_status == "ran"]
    envs = {b: _env(b, behaviour, config.seed, **fields) for b in backends}
    steps = {b: (min(2, config.scaling_steps) if b == "reference" else config.scaling_steps) for b in backends}
    rates = time_envs(envs, steps, config.repeats, config.seed, config.min_seconds)
    out = {}
    for backend in BACKENDS:
        row = {"status": "ran" if backend != "reference" else reference_status,
               "steps_per_s": math.nan, "states_per_s": math.nan, "peak_mb": math.nan}
        if backend in envs:
            row.update(rates[backend], peak_mb=step_memory_mb(envs[backend], seed=config.seed))
        out[backend] = row
    return out


def scaling(config: BenchConfig, behaviour: Behaviour) -> pd.DataFrame:
    """Steps/s and peak memory per backend along each axis (N, M, K) through :data:`SCALING_BASE`.

    Each axis includes the base value; a configuration shared by several axes is measured once.
    """
    base = SCALING_BASE
    axes = {
        "N": ("n_products", config.n_products),
        "M": ("n_sessions", config.n_sessions),
        "K": ("n_candidates", config.n_candidates),
    }
    measured: dict[tuple[int, int, int], dict[str, dict[str, Any]]] = {}
    rows = []
    for axis, (name, values) in axes.items():
        last_reference: tuple[int, float] | None = None  # (M * K, seconds per step) of the last run
        for value in sorted(set(values) | {base[name]}):
            fields = {**base, name: value}
            key = (fields["n_products"], fields["n_sessions"], fields["n_candidates"])
            work = fields["n_sessions"] * fields["n_candidates"]
            frame_mb = frame_megabytes(behaviour, fields["n_products"])
            predicted = last_reference[1] * work / last_reference[0] if last_reference else 0.0
            status = "ran"
            if frame_mb > config.reference_memory_mb:
                status = f"not run: one expanded frame needs {frame_mb:,.0f} MB (cap {config.reference_memory_mb:g} MB)"
            elif predicted > config.reference_seconds:
                status = f"not run: a step would take about {predicted:.0f} s (budget {config.reference_seconds:g} s)"
            if key not in measured or (status == "ran" and measured[key]["reference"]["status"] != "ran"):
                measured[key] = _measure_config(config, behaviour, fields, status)
            result = measured[key]
            for backend in BACKENDS:
                rows.append(
                    {
                        "axis": axis,
                        "value": value,
                        "n_products": key[0],
                        "n_sessions": key[1],
                        "n_candidates": key[2],
                        "backend": backend,
                        **result[backend],
                        "frame_mb": frame_mb if backend == "reference" else math.nan,
                    }
                )
            if result["reference"]["status"] == "ran":
                last_reference = (work, 1.0 / result["reference"]["steps_per_s"])
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class ReferenceHotSpots:
    """The reference backend's hot spots, measured with cProfile.

    Attributes:
        table: the top functions by cumulative time (function, calls, seconds, share_pct).
        breakdown: seconds by part of the step (a partition of the profiled time); the first two
            parts make up the per-state session loop.
        lookup_share_pct: share of the time in the per-state row lookup (:data:`LOOKUP_FUNCTIONS`
            called by the session loop).
        seconds: profiled seconds. steps: env steps profiled.
    """

    table: pd.DataFrame
    breakdown: pd.Series
    lookup_share_pct: float
    seconds: float
    steps: int


def reference_hot_spots(
    behaviour: Behaviour, n_candidates: int, eps_alpha: float, steps: int = 20, seed: int = 0, top: int = 12
) -> ReferenceHotSpots:
    """Hot spots (cProfile) of ``steps`` reference env steps at M = 10, N = 3 (the published profile's setting)."""
    env = _env("reference", behaviour, seed, **PROFILE_MARKET, n_candidates=n_candidates, eps_alpha=eps_alpha)
    env.step(4)
    profiler = cProfile.Profile()
    actions = np.random.default_rng(seed).integers(0, 9, steps)
    profiler.enable()
    for action in actions:
        env.step(int(action))
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = max(entry[3] for entry in stats.values())  # the outermost call: env.step's cumulative time
    rows = [
        {
            "function": f"{Path(path).name}:{line}({name})",
            "calls": entry[1],
            "seconds": entry[3],
            "share_pct": 100 * entry[3] / total,
        }
        for (path, line, name), entry in stats.items()
    ]
    session = next(key for key in stats if key[2] == "_session" and key[0].endswith("reference.py"))

    def called_by_session(match: Callable[[str], bool]) -> float:
        """Cumulative time of the calls the per-state loop makes to matching functions (no double counting)."""
        return sum(entry[4][session][3] for (_, _, name), entry in stats.items() if match(name) and session in entry[4])

    def cumulative(name: str) -> float:
        return sum(entry[3] for (path, _, fn), entry in stats.items() if fn == name and "phantom_lib" in path)

    lookup = called_by_session(lambda name: name in LOOKUP_FUNCTIONS)
    parts = {
        LOOKUP_PART: lookup,
        "rest of the per-state loop (weighted choice, labels)": stats[session][3] - lookup,
        "Kronecker expansion (2K frames per step)": cumulative("expanded_frame"),
        "agent probability f and proxy q": cumulative("step_agent_probability") + cumulative("demand_proxy"),
    }
    parts["everything else"] = total - sum(parts.values())
    table = pd.DataFrame(rows).sort_values("seconds", ascending=False).head(top).reset_index(drop=True)
    return ReferenceHotSpots(table, pd.Series(parts, name="seconds"), 100 * lookup / total, total, steps)


def equivalence_draws(
    behaviour: Behaviour, draws: int, seed: int = 0, prices: tuple[float, ...] = (40.0, 55.0, 70.0), alpha: float = 0.3
) -> pd.DataFrame:
    """Market draws of every backend at the same prices and share (M = 10): one row per draw.

    The reference gets a fifth of ``draws`` (it is slow). Columns: backend, draw, f, q_0 .. q_{N-1}.
    """
    from phantom_lib.sim.market import MarketConfig
    from phantom_lib.sim.samplers import make_sampler

    config = MarketConfig(n_products=len(prices), n_sessions=PROFILE_MARKET["n_sessions"])
    frames = []
    for i, backend in enumerate(BACKENDS):
        sampler = make_sampler(backend, behaviour, config)
        rng = np.random.default_rng(seed + i)
        n = max(draws // 5, 2) if backend == "reference" else draws
        samples = [sampler.sample(np.asarray(prices), [alpha], rng) for _ in range(n)]
        frame = pd.DataFrame(np.stack([s.q[0] for s in samples]), columns=[f"q_{j}" for j in range(len(prices))])
        frame.insert(0, "f", [s.f[0] for s in samples])
        frame.insert(0, "draw", np.arange(n))
        frame.insert(0, "backend", backend)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def equivalence_pvalues(draws: pd.DataFrame, decimals: int = 3) -> pd.DataFrame:
    """Two-sample KS p-value of each column of :func:`equivalence_draws` against the numpy backend.

    Values are rounded to ``decimals`` first: float32 (jax) and float64 put the point mass of
    q = 100 on different sides of 99.99999, which KS would otherwise count as a difference.
    """
    from scipy import stats

    rounded = draws.round({c: decimals for c in draws.columns if c not in ("backend", "draw")})
    base = rounded[rounded.backend == "numpy"]
    columns = [c for c in draws.columns if c not in ("backend", "draw")]
    return pd.DataFrame(
        {
            backend: {c: stats.ks_2samp(base[c], group[c]).pvalue for c in columns}
            for backend, group in rounded.groupby("backend", sort=False)
            if backend != "numpy"
        }
    ).rename_axis("KS p-value vs numpy")


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import jax

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "jax": jax.__version__,
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def training(config: BenchConfig, behaviour: Behaviour) -> pd.DataFrame:
    """JAX PPO vs SB3 PPO at the study's configuration, side by side (:func:`ppo_versus_sb3`)."""
    from phantom_lib.perf.training import ppo_versus_sb3

    return ppo_versus_sb3(config.training_steps, config.training_rounds, config.training_batch)


SECTIONS: dict[str, tuple[str, Callable[[BenchConfig, Behaviour], pd.DataFrame]]] = {
    "published": ("published configurations (M=10, N=3; K=1 and K=5)", published),
    "batched": ("batched jax env (profile and study configurations)", batched),
    "training": ("JAX PPO vs SB3 PPO, side by side", training),
    "scaling": ("scaling in N, M, K", scaling),
}
"""The sections of a bench run, in order: name -> (label, measurement)."""


def run_bench(
    config: BenchConfig, behaviour: Behaviour | None = None, progress: Callable[[str], None] = print
) -> dict[str, Any]:
    """Every measurement, as JSON-ready records (see the module docstring), with each section's
    seconds and load averages (1, 5, 15 min) before and after it (``load``) and over the run."""
    behaviour = load_behaviour(config.data_source) if behaviour is None else behaviour
    start = time.perf_counter()
    sections: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    load: dict[str, dict[str, list[float]]] = {}

    def run_sections() -> None:
        for name, (label, measure) in SECTIONS.items():
            progress(f"[bench] {label} ...")
            begin = time.perf_counter()
            frame, load[name] = with_load(lambda measure=measure: measure(config, behaviour))
            sections[name] = frame.to_dict(orient="records")
            seconds[name] = time.perf_counter() - begin

    _, load["run"] = with_load(run_sections)
    return {
        "config": asdict(config),
        "machine": machine(),
        "published_reference": PROFILE,
        **sections,
        "section_seconds": seconds,
        "load": load,
        "seconds": time.perf_counter() - start,
    }


def tables(result: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """The result's tables as frames, one per section present in it."""
    return {name: pd.DataFrame(result[name]) for name in SECTIONS if name in result}


def large_rows(scaling_frame: pd.DataFrame) -> pd.DataFrame:
    """The scaling rows of the :data:`LARGE` configuration, one per backend (indexed by backend)."""
    match = (scaling_frame[list(LARGE)] == pd.Series(LARGE)).all(axis=1)
    return scaling_frame[match].drop_duplicates("backend").set_index("backend")


def targets(result: dict[str, Any]) -> dict[str, float]:
    """The issue's targets as measured figures: ratios measured side by side, batched steps/s, memory."""
    pub = pd.DataFrame(result["published"]).set_index(["setting", "backend"])
    bat = pd.DataFrame(result["batched"])
    best = bat.groupby("config")["env_steps_per_s"].max()
    big = large_rows(pd.DataFrame(result["scaling"])).drop(index="reference")
    return {
        "numpy_after_over_before_k5": float(pub.loc[("k5", "numpy"), "over_per_state"]),
        "numpy_after_over_before_k1": float(pub.loc[("k1", "numpy"), "over_per_state"]),
        "numpy_reused_over_before_k5": float(pub.loc[("k5", REUSED), "over_per_state"]),
        "numpy_over_reference_k5": float(pub.loc[("k5", "numpy"), "speedup"]),
        "jax_over_reference_k5": float(pub.loc[("k5", "jax"), "speedup"]),
        "jax_batched_profile_steps_per_s": float(best.get("profile", math.nan)),
        "jax_batched_study_steps_per_s": float(best.get("study", math.nan)),
        "jax_batched_over_reference_k5": float(
            best.get("profile", math.nan) / pub.loc[("k5", "reference"), "steps_per_s"]
        ),
        "n1000_m100_k5_peak_mb": float(big["peak_mb"].max()) if len(big) else math.nan,
        **{f"jax_ppo_over_sb3_{int(row['timesteps'])}": float(row["ratio"]) for row in result.get("training", [])},
        **{f"jax_ppo_cells_over_sb3_{int(row['timesteps'])}": float(row["ratio_cells"])
           for row in result.get("training", []) if "ratio_cells" in row},
    }


ISSUE_TARGETS = {"profile": 1_000_000.0, "study": 250_000.0, "ppo_ratio_32768": 50.0}
"""Issue 26's targets: batched jax env steps/s on one core at the profile and study configurations,
and JAX PPO over SB3 PPO at 32,768 steps."""


def _spread_row(quantity: str, kind: str, row: Any, column: str, target: float = math.nan) -> dict[str, Any]:
    return {"quantity": quantity, "kind": kind, "median": float(row[column]), "min": float(row[f"{column}_min"]),
            "max": float(row[f"{column}_max"]), "target": target}


def side_by_side(result: dict[str, Any]) -> pd.DataFrame:
    """The headline figures of one run, each a median with its range over interleaved rounds:
    batched jax env steps/s on one worker (best batch size) at the profile and study
    configurations, JAX PPO (a batch of seeds, a batch of cells) and SB3 PPO steps/s and the ratios
    per budget, and the numpy and jax backends over the reference (ratios within rounds), beside
    the issue's targets."""
    rows = []
    bat = pd.DataFrame(result["batched"])
    for name, label in (("profile", "M 10, N 3, K 5"), ("study", "M 100, N 10, K 5")):
        one = bat[(bat["config"] == name) & (bat["workers"] == 1)]
        if len(one):
            best = one.loc[one["env_steps_per_s"].idxmax()]
            rows.append(
                _spread_row(
                    f"batched jax env, {label}, {int(best['envs'])} envs, 1 worker",
                    "env steps/s",
                    best,
                    "env_steps_per_s",
                    ISSUE_TARGETS[name],
                )
            )
    for _, row in pd.DataFrame(result.get("training", [])).iterrows():
        steps = int(row["timesteps"])
        target = ISSUE_TARGETS["ppo_ratio_32768"] if steps == 32768 else math.nan
        batch = int(row["jax_batch"])
        for shape, column, ratio in ((f"{batch} seeds, one cell", "jax_steps_per_s", "ratio"),
                                     (f"{batch} cells, one seed", "jax_cells_steps_per_s", "ratio_cells")):
            if column in row:
                rows.append(_spread_row(f"JAX PPO ({shape}), {steps:,} steps", "env steps/s", row, column))
                rows.append(_spread_row(f"JAX PPO ({shape}) / SB3 PPO, {steps:,} steps", "ratio", row, ratio, target))
        rows.append(_spread_row(f"SB3 PPO (1 seed), {steps:,} steps", "env steps/s", row, "sb3_steps_per_s"))
    pub = pd.DataFrame(result["published"]).set_index(["setting", "backend"])
    for setting in PROFILE:
        for backend in ("numpy", "jax"):
            rows.append(_spread_row(f"{backend} / reference backend, {setting} (M 10, N 3)", "ratio",
                                    pub.loc[(setting, backend)], "speedup"))
    return pd.DataFrame(rows)


def load_text(result: dict[str, Any]) -> str:
    """The run's load averages: ``1/5/15-min before -> after``."""
    run = result["load"]["run"]
    return "/".join(f"{v:.2f}" for v in run["before"]) + " -> " + "/".join(f"{v:.2f}" for v in run["after"])


def headline(result: dict[str, Any]) -> pd.DataFrame:
    """Steps/s at the published configuration (M = 10, N = 3) beside the original engine's
    published figures: one row per setting (K = 1, K = 5), columns per engine."""
    pub = pd.DataFrame(result["published"])
    table = pub.pivot(index="setting", columns="backend", values="steps_per_s")[list(ENGINES)]
    table.insert(0, "published original", [PROFILE[s]["steps_per_s"] for s in table.index])
    table.insert(1, "published arrays+JAX", [PROFILE[s]["optimised_steps_per_s"] for s in table.index])
    bat = pd.DataFrame(result["batched"])
    profile = bat[bat["config"] == "profile"]
    table["jax batched (profile, best)"] = float(profile["env_steps_per_s"].max()) if len(profile) else math.nan
    table["numpy after / before"] = pub[pub["backend"] == "numpy"].set_index("setting")["over_per_state"]
    return table


def format_report(result: dict[str, Any]) -> str:
    """Plain-text tables of a bench result: the headline beside the published figures, then
    every section and the targets."""
    parts = [f"== side by side in this run (median and range over interleaved rounds; load average "
             f"1/5/15 min {load_text(result)} on {result['machine']['cpus']} CPUs)\n"
             + side_by_side(result).to_string(index=False, float_format=lambda v: f"{v:,.1f}"),
             "== steps/s at M = 10, N = 3 beside the original engine's published figures\n"
             + headline(result).round(1).to_string()]
    for name, frame in tables(result).items():
        parts.append(f"== {name}\n{frame.round(3).to_string(index=False)}")
    parts.append("== targets\n" + "\n".join(f"{k}: {v:,.3g}" for k, v in targets(result).items()))
    parts.append(f"(total {result['seconds']:.1f} s on {result['machine']['cpus']} CPUs)")
    return "\n\n".join(parts)
