"""The study on the jax engine: batches of trials trained and evaluated by compiled programs (Model reference, section
7).

A *slice* is a group of trials that share every static shape and setting: the algorithm, the
action levels, the number of candidate shares actually scored (K, or 1 when eps_alpha = 0:
:func:`effective_env`), the budgets and the market sizes (:func:`slice_key`). Trials of a slice
differ only in alpha0, eps_alpha, lambda_coi (values inside the programs, see :func:`with_cell`)
and the seed. A slice's two programs (``jit(vmap(train))`` of :mod:`phantom_lib.study.jax.learners`
and the evaluation) are built from its key alone (:func:`program_trial`), never from one of its
trials. :func:`batches` cuts each slice into batches of one size, a divisor of the slice's trial
count (:func:`divisor_batch_size`), so no batch is padded; :func:`run_batch` still pads a short
batch (a resumed slice that is not whole batches) with copies of its last trial, recorded as
``padding``. Compiled programs are kept per process, so every batch of a slice after the first in
a process (a Ray worker runs many) skips compilation.

The engine's contract: a trial's numbers are a function of its config and its seed; neither its
batch's size, nor its neighbours, nor its position change them (tests hold the trained weights of
the four learners equal bit for bit alone and in batches of 2, 3 and 5, and a trial's metrics equal
in batches that mix configs naming K = 5 and K = 1; measured: a sales PPO trial at 100k steps alone
and in batches of 2 and 7, and the committed studies' trials alone). Two things in XLA's CPU
compiler broke that, found on the sales study (a PPO trial alone and in a batch of 2 differed after
about 27k steps, then everywhere): YNNPACK fusions, which XLA uses for reductions above a size
threshold (the vmapped global gradient norm of a (B, 24, 64) weight crosses it at B = 3), and the
B = 1 program, from which XLA drops the batch axis and lowers the gradient matrix products with
other operand orders. So every program is compiled with :data:`XLA_OPTIONS` (no YNNPACK fusions)
and has at least :data:`MIN_PROGRAM_BATCH` trials (a lone trial is padded). Runs before this
(batch records without ``xla_options``) used XLA's defaults and reproduce only at their recorded
batch size, with :data:`LEGACY_XLA_OPTIONS`. Each batch also records the memory cap of its spacing
pools (``pool_mb``, :data:`phantom_lib.sim.jax_env.POOL_SPACING_MB`), which sets the pools' block
count and so every draw; records without it ran with :data:`LEGACY_POOL_MB`.

Randomness: trial (config, seed) trains with ``fold_in(key(seed), 0)`` and evaluates with
``fold_in(key(seed), 1)`` (threefry keys, so a vmapped trial draws what it would draw alone), on
market pools walked from ``fold_in(key(seed), 2)`` and ``fold_in(key(seed), 3)``
(:data:`POOL_STREAMS`); like the SB3 path, cells with the same seed share their random streams.

Evaluation follows :mod:`phantom_lib.study.sb3.evaluate`: ``eval_episodes`` deterministic episodes at
alpha0 and at each stress share, in the evaluation env (K = 1, no adversary, the trial's
eps_alpha and lambda_coi; the observation's alpha0 is the share), the same episode keys at the
three shares; :func:`~phantom_lib.study.common.stress_summary` adds the stress and worst-case
metrics. Metric names and meanings are those of :data:`phantom_lib.study.common.METRICS`, with
one difference in what the timings mean: ``train_seconds`` and ``eval_seconds`` are each
trial's share of its batch's wall time (batch time / trials in the batch, padding excluded;
compile time excluded and recorded in the batch record), so ``train_steps_per_s`` is the
batch's useful env steps per second, learner updates included.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from phantom_lib.behaviour.model import load_behaviour
from phantom_lib.sim import jax_env
from phantom_lib.sim.config import EnvConfig
from phantom_lib.sim.spaces import observation_bounds
from phantom_lib.study.common import (
    EVAL_METRICS,
    DigitisedFeatures,
    stress_summary,
    training_record,
)
from phantom_lib.study.design.designs import Trial, TrialConfig
from phantom_lib.study.jax.actor_critic import A2CConfig, PPOConfig
from phantom_lib.study.jax.learners import JAX_ALGORITHMS, Learner, learner
from phantom_lib.study.jax.q import DQNConfig, QTableConfig
from phantom_lib.study.jax.view import LearnerEnv, ViewParams

XLA_OPTIONS: dict[str, str] = {"xla_cpu_experimental_ynn_fusion_type": ""}
"""XLA compile options of every program: no YNNPACK fusions on the CPU (they reduce in an order that
depends on the total size, hence on the batch size). Recorded in each :class:`BatchRecord`."""

LEGACY_XLA_OPTIONS: dict[str, str] = {}
"""XLA's defaults: what batches recorded without ``xla_options`` were compiled with."""

LEGACY_POOL_MB = 64.0
"""The spacing pools' memory cap (MB) of batches recorded without ``pool_mb`` (written before it was recorded)."""

MIN_PROGRAM_BATCH = 2
"""The fewest trials a program runs: XLA compiles a batch of one differently from any larger batch
(it drops the batch axis), so a lone trial is padded to this size and runs as in any batch."""

CELL_FIELDS = ("alpha0", "eps_alpha", "lambda_coi")
"""Trial settings that vary inside a batch (values in the compiled program, not shapes)."""


class CellValues(NamedTuple):
    """The numbers of :class:`~phantom_lib.sim.jax_env.EnvParams` that vary across a batch's cells.

    Attributes:
        alpha0, eps_alpha, lambda_coi: float32 scalars (the candidate shares and the class split
            follow from them inside the program, :func:`phantom_lib.sim.dynamics.candidate_shares`).
    """

    alpha0: Any
    eps_alpha: Any
    lambda_coi: Any


def cell_values(config: EnvConfig) -> CellValues:
    """The cell numbers of ``config``, cast as :func:`phantom_lib.sim.jax_env.make` casts them."""
    return CellValues(np.float32(config.alpha0), np.float32(config.eps_alpha), np.float32(config.lambda_coi))


def with_cell(params: jax_env.EnvParams, cell: CellValues) -> jax_env.EnvParams:
    """``params`` with the cell's numbers put in (traceable: ``cell`` may be vmapped values).

    The glue between :func:`phantom_lib.sim.jax_env.make` and a batch of cells; a test holds
    ``with_cell(make(base)[1], cell_values(config))`` equal to ``make(config)[1]``.
    """
    step = params.step._replace(alpha0=cell.alpha0, eps_alpha=cell.eps_alpha, lambda_coi=cell.lambda_coi)
    return params._replace(step=step)


@dataclass(frozen=True)
class JaxFeatures:
    """:meth:`DigitisedFeatures.index` in jax.numpy, hashable (a static part of the Q-learner's config)."""

    features: DigitisedFeatures

    def __call__(self, obs: Any) -> Any:
        return self.features.index(jnp, obs)


def learner_config(trial: TrialConfig) -> PPOConfig | A2CConfig | DQNConfig | QTableConfig:
    """The learner settings of ``trial`` (reference values scaled to its budget, as the SB3 path)."""
    n_actions, steps = trial.env.action_levels, trial.timesteps
    if trial.algorithm == "ppo":
        return PPOConfig.for_budget(steps, n_actions)
    if trial.algorithm == "a2c":
        return A2CConfig.for_budget(steps, n_actions)
    if trial.algorithm == "dqn":
        return DQNConfig.for_budget(steps, n_actions)
    if trial.algorithm == "qtable":
        features = DigitisedFeatures(trial.env.market.n_products, trial.env.p_low, trial.env.p_high)
        return QTableConfig(steps, n_actions, features.n_states, JaxFeatures(features))
    raise ValueError(f"the jax engine trains {JAX_ALGORITHMS}; {trial.algorithm!r} is evaluated by the trainable")


def effective_env(env: EnvConfig) -> EnvConfig:
    """``env`` with K set to the number of candidate shares actually scored: 1 when eps_alpha = 0
    (:attr:`EnvConfig.candidates`). The two draw the same market with the same meaning, but a
    program built for K = 5 draws five candidates' sessions per step and keeps the first, so its
    random numbers (and cost) differ from the K = 1 program's: programs are built from this."""
    return env.replace(n_candidates=len(env.candidates))


LABELS = ("variant", "defence")
"""Trial config entries that only label a trial for the analysis (never part of a slice key)."""


def slice_key(config: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """What trials of one slice share, i.e. what determines their compiled programs: every config
    entry but the cell fields and the labels (:data:`LABELS`), with ``n_candidates`` replaced by the number
    of candidates actually scored (:func:`effective_env`). The programs are built from this key
    alone (:func:`program_trial`), never from a batch's first trial."""
    trial = TrialConfig.from_mapping(config)
    shared = {k: v for k, v in config.items() if k not in (*CELL_FIELDS, *LABELS, "n_candidates")}
    shared["n_candidates"] = effective_env(trial.env).n_candidates
    return tuple(sorted(shared.items()))


def program_trial(key: tuple[tuple[str, Any], ...]) -> TrialConfig:
    """The trial config a slice's programs are built from: the key's settings and placeholder cell
    values (alpha0 0.5, lambda_coi 0, eps_alpha 0 or 0.25 so that K candidates are scored); every
    trial's own cell values are put in inside the programs (:func:`with_cell`)."""
    settings = dict(key)
    eps = 0.0 if settings["n_candidates"] == 1 else 0.25
    return TrialConfig.from_mapping({**settings, "alpha0": 0.5, "eps_alpha": eps, "lambda_coi": 0.0})


SliceKey = tuple[tuple[str, Any], ...]
"""A slice's settings (:func:`slice_key`)."""


def slices(trials: Sequence[Trial]) -> dict[SliceKey, list[Trial]]:
    """The trials grouped by slice (first appearance order, trial order kept within a slice)."""
    groups: dict[SliceKey, list[Trial]] = {}
    for trial in trials:
        groups.setdefault(slice_key(trial.config), []).append(trial)
    return groups


def divisor_batch_size(n_trials: int, largest: int, multiple: int = 1) -> int:
    """The batch size of a slice of ``n_trials``: its largest divisor in [:data:`MIN_PROGRAM_BATCH`,
    ``largest``] that is a multiple of ``multiple`` (the device count, so a batch shards evenly),
    else its largest divisor in that range, so the slice's batches are all full: no padding. A
    slice with no such divisor (a lone trial, a prime count above ``largest``) gets the size in
    the range that pads it least (the larger on a tie)."""
    if largest < 1 or multiple < 1:
        raise ValueError(f"batch_size must be >= 1 (and the device multiple); got {largest} and {multiple}")
    top = max(largest, MIN_PROGRAM_BATCH)
    divisors = [d for d in range(min(top, n_trials), MIN_PROGRAM_BATCH - 1, -1) if n_trials % d == 0]
    if divisors:
        return next((d for d in divisors if d % multiple == 0), divisors[0])
    return min(range(top, MIN_PROGRAM_BATCH - 1, -1), key=lambda d: -(-n_trials // d) * d)


def batch_sizes(trials: Sequence[Trial], largest: int, multiple: int = 1) -> dict[SliceKey, int]:
    """Each slice's batch size (:func:`divisor_batch_size`). Computed from a whole design, not from
    the trials a resumed run still needs, so a resumed trial runs at the size it would have had."""
    return {key: divisor_batch_size(len(group), largest, multiple) for key, group in slices(trials).items()}


def batches(trials: Sequence[Trial], batch_size: int | Mapping[SliceKey, int]) -> list[list[Trial]]:
    """The trials cut into batches, each within one slice (order kept). ``batch_size``: each
    slice's size (:func:`batch_sizes`), or the largest size allowed, from which the sizes of these
    trials' slices are computed. A slice of a resumed run that is not a whole number of batches
    ends with a short batch (:func:`run_batch` pads it to the slice's size)."""
    sizes = batch_sizes(trials, batch_size) if isinstance(batch_size, int) else batch_size
    out = []
    for key, group in slices(trials).items():
        size = sizes[key]
        if size < 1:
            raise ValueError(f"batch_size must be >= 1; got {size}")
        out += [group[i : i + size] for i in range(0, len(group), size)]
    return out


class _Inputs(NamedTuple):
    """The vmapped inputs of one batch (leading axis: the batch)."""

    seed: Any
    train: CellValues
    evaluate: CellValues  # (batch, 3) leaves: alpha0 and the two stress shares
    low: Any
    high: Any


def _inputs(trials: Sequence[TrialConfig], seeds: Sequence[int]) -> _Inputs:
    def stack(values: Sequence[Any]) -> Any:
        return jax.tree.map(lambda *leaves: np.stack(leaves), *values)

    evaluate, lows, highs = [], [], []
    for trial in trials:
        shares = (trial.env.alpha0, *trial.stress_shares)
        evaluate.append(stack([cell_values(evaluation_env(trial).replace(alpha0=a)) for a in shares]))
        low, high = observation_bounds(trial.env, load_behaviour(trial.env.market.data_source))  # unit_box's
        lows.append(low)
        highs.append(high)
    return _Inputs(
        np.asarray(seeds, np.uint32),
        stack([cell_values(t.env) for t in trials]),
        stack(evaluate),
        np.stack(lows),
        np.stack(highs),
    )


def evaluation_env(trial: TrialConfig) -> EnvConfig:
    """The environment a trial is evaluated in: its own with K = 1 (the market as it is, no
    adversary), or its training env unchanged when ``trial.evaluation == "training_env"``."""
    return trial.env if trial.evaluation == "training_env" else trial.env.replace(n_candidates=1)


def _episode(learned: Learner, env: Any, policy: Any, key: Any, params: ViewParams, max_steps: int) -> tuple[Any, Any]:
    """One deterministic episode: sums over its steps of :data:`EVAL_METRICS` and the reward
    (env units), shape (len(EVAL_METRICS) + 1,), and its length (steps until it ended, <= max_steps)."""
    view = LearnerEnv(env, learned.unit_obs)
    key_reset, key_steps = jax.random.split(key)
    obs, state = view.reset(key_reset, params)

    def step(carry: Any, key: Any) -> tuple[Any, Any]:
        obs, state, alive = carry
        obs, state, reward, terminated, truncated, info = view.step(key, state, learned.act(policy, obs), params)
        values = jnp.stack([info[name] for name in EVAL_METRICS] + [reward]) * alive
        return (obs, state, alive & ~(terminated | truncated)), (values, alive)

    _, (values, alive) = jax.lax.scan(step, (obs, state, jnp.array(True)), jax.random.split(key_steps, max_steps))
    return values.sum(0), alive.sum()


def _constant_action(action: Any, obs: Any) -> Any:
    return action


def _no_training(key: Any, params: ViewParams) -> Any:
    raise TypeError("a constant policy is not trained")


POOL_STREAMS = {"train": 2, "evaluate": 3}
"""Key streams (``fold_in(key(seed), n)``) of the pools a trial trains and is evaluated on. A pool
depends on the seed and the slice's market only (never on a cell's shares or prices), so trials of
one seed train on one pool and trials of different seeds share no market paths; within one trial's
training every step draws its sessions from the one pool (P paths per class; two sessions are the
same path with probability about 1/P, Model reference, section 11). A batch whose trials all have
one seed walks each pool once and shares it (:attr:`_Slice.shared_pool`); a batch of several seeds
walks them per trial (of the committed runs' batches, every one of the factorial's 48 and of
as-run's and as-written's 12 had one seed; 24 of the sales study's 32 and neither of responsive's
2). Evaluation walks a pool of its own rather than reusing the training pool: a policy is scored on
paths it never trained on, so the score cannot reward fitting one pool's finite sample."""

CONSTANT = "constant"
"""The algorithm name of :data:`CONSTANT_POLICY` in a :class:`_Slice`."""

CONSTANT_POLICY = Learner(_no_training, _constant_action, unit_obs=False)
"""A "learner" whose policy is an action index, played at every step (evaluates fixed price scales)."""


@dataclass(frozen=True)
class _Slice:
    """The static part of a batch: learner, env shapes, budgets; builds the two programs."""

    algorithm: str
    config: Any
    env: Any
    eval_env: Any
    reward_scale: float
    eval_episodes: int
    max_steps: int
    shared_pool: bool = False
    """Every trial of the batch has one seed, so one walk of each pool serves them all: the pool
    each would walk alone (the same numbers), in 1/batch of the walking time and memory."""

    def learner(self) -> Learner:
        return CONSTANT_POLICY if self.algorithm == CONSTANT else learner(self.algorithm, self.env, self.config)

    @staticmethod
    def walked(env: Any, base: Any, seed: Any, stream: str) -> Any:
        """``base`` with the pool of ``seed``'s key stream ``POOL_STREAMS[stream]`` walked by ``env``."""
        return env.refresh(jax.random.fold_in(jax.random.key(seed), POOL_STREAMS[stream]), base)

    def train_on(self, base: Any, inputs: _Inputs) -> tuple[Any, Any]:
        """Train one trial on ``base``'s pool (its seed's training pool)."""
        params = ViewParams(with_cell(base, inputs.train), inputs.low, inputs.high, self.reward_scale)
        return self.learner().train(jax.random.fold_in(jax.random.key(inputs.seed), 0), params)

    def train(self, base: Any, inputs: _Inputs) -> tuple[Any, Any]:
        """Train a batch (``inputs`` with a leading trial axis), each trial on its seed's training
        pool (key stream 2): walked once when the batch has one seed (:attr:`shared_pool`), else
        per trial. Returns (policies, per-step logs), each with the trial axis."""
        if self.shared_pool:
            pooled = self.walked(self.env, base, inputs.seed[0], "train")
            return jax.vmap(self.train_on, in_axes=(None, 0))(pooled, inputs)

        def own_pool(trial: _Inputs) -> tuple[Any, Any]:
            return self.train_on(self.walked(self.env, base, trial.seed, "train"), trial)

        return jax.vmap(own_pool)(inputs)

    def evaluate(self, base: Any, policies: Any, inputs: _Inputs) -> dict[str, Any]:
        """Evaluation metrics of a batch at its three shares, each of shape (batch, 3).

        Trials run one after another (``lax.map``), each on its seed's evaluation pool (key
        stream 3: walked once when the batch has one seed, :attr:`shared_pool`, else per trial);
        a trial's 3 x ``eval_episodes`` episodes run under one ``vmap`` that shares that pool
        (nested vmaps of the env compile several times slower). Episode e of a trial uses the
        same key at each share. Memory is one pool and one trial's episodes, whatever the batch
        size (vmapping over trials too copied the pool per episode: about 33 GB at the study's
        M = 100 for a batch of 16).
        """
        size, episodes = inputs.seed.shape[0], self.eval_episodes
        share, episode = (ix.ravel() for ix in np.indices((3, episodes)))
        shared = self.walked(self.eval_env, base, inputs.seed[0], "evaluate").pool if self.shared_pool else None

        def one_trial(trial: tuple[Any, Any, CellValues, Any, Any]) -> tuple[Any, Any]:
            policy, seed, cells, low, high = trial
            keys = jax.random.split(jax.random.fold_in(jax.random.key(seed), 1), episodes)
            pool = shared if shared is not None else self.walked(self.eval_env, base, seed, "evaluate").pool

            def run(cell: CellValues, key: Any) -> tuple[Any, Any]:
                params = ViewParams(with_cell(base._replace(pool=pool), cell), low, high, self.reward_scale)
                return _episode(self.learner(), self.eval_env, policy, key, params, self.max_steps)

            return jax.vmap(run)(jax.tree.map(lambda x: x[share], cells), keys[episode])

        sums, steps = jax.lax.map(one_trial, (policies, inputs.seed, inputs.evaluate, inputs.low, inputs.high))
        sums, steps = sums.reshape(size, 3, episodes, -1), steps.reshape(size, 3, episodes)
        n = steps.sum(-1)
        out = {name: sums[..., i].sum(-1) / n for i, name in enumerate(EVAL_METRICS)}
        out.update(episode_return=sums[..., -1].mean(-1), episode_length=n / episodes)
        return out


PROGRAMS_KEPT = 16
"""How many compiled programs a process keeps (least recently used dropped first). XLA's CPU backend
holds about 1,000 memory mappings per compiled train or evaluate program, and Linux allows a process
65,530 (``vm.max_map_count``): a process that kept every program (a long test session, a notebook
kernel re-running chapters) died with a segmentation fault inside XLA's compiler (measured: at the
78th program). A slice has two programs, so a worker keeps its last 8 slices; one that meets a slice
again after more compiles it again, or reads it from the sweep's compile cache."""

_COMPILED: OrderedDict[Any, Any] = OrderedDict()
"""(slice, batch size, argument shapes) -> compiled program, most recently used last."""


def release_programs() -> None:
    """Drop every compiled program this process keeps, and JAX's own caches, with their memory."""
    _COMPILED.clear()
    jax.clear_caches()  # type: ignore[no-untyped-call]


def _compiled(
    name: str, program: Any, args: tuple[Any, ...], cache_key: Any, options: Mapping[str, str]
) -> tuple[Any, float]:
    """``program`` compiled for ``args`` with XLA ``options`` (cached); returns (executable, compile
    seconds, 0 if cached)."""
    leaves, tree = jax.tree.flatten(args)
    key = (
        name,
        cache_key,
        tuple(sorted(options.items())),
        str(tree),
        tuple((np.shape(x), str(getattr(x, "dtype", type(x))), str(getattr(x, "sharding", None))) for x in leaves),
    )
    if key in _COMPILED:
        _COMPILED.move_to_end(key)
        return _COMPILED[key], 0.0
    while len(_COMPILED) >= PROGRAMS_KEPT:
        _COMPILED.popitem(last=False)
    start = time.perf_counter()
    _COMPILED[key] = jax.jit(program).lower(*args).compile(compiler_options=dict(options))
    return _COMPILED[key], time.perf_counter() - start


@dataclass(frozen=True)
class BatchRecord:
    """What ran one batch: the provenance of its trials.

    Attributes:
        slice: the slice's shared settings. trial_ids, seeds: the batch's trials (padding excluded).
        batch_size: trials per program (padding included). padding: copies of the last trial added
            to fill the batch (0 for every batch of a whole slice, :func:`batches`, but a lone trial).
            compile_seconds: compile time of the two programs in this process (0 when already
            compiled). train_seconds, eval_seconds: wall times of the batch. engine, backend,
            device_kind, device_count, jax_version: where it ran. devices_used: devices the batch's
            trials were split over (:func:`trial_sharding`; 1 when the batch size is not a multiple
            of the device count).
            xla_options: the XLA compile options of its programs (:data:`XLA_OPTIONS`; absent from
            records written before them, which used :data:`LEGACY_XLA_OPTIONS`).
            pool_mb: the memory cap of its spacing pools, MB (absent from records written before
            it, which used :data:`LEGACY_POOL_MB`).
    """

    slice: dict[str, Any]
    trial_ids: list[str]
    seeds: list[int]
    batch_size: int
    padding: int
    compile_seconds: float
    train_seconds: float
    eval_seconds: float
    engine: str
    backend: str
    device_kind: str
    device_count: int
    jax_version: str
    devices_used: int
    xla_options: dict[str, str]
    pool_mb: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def trial_sharding(size: int) -> Any:
    """How a batch of ``size`` trials is laid over this process's devices: split along the trial
    axis over every device (``NamedSharding`` on a one-axis ``Mesh``) when ``size`` is a multiple of
    the device count, else ``None`` (the default device). Each trial's program is unchanged, so
    its numbers do not depend on the devices (a test runs one batch on 1 and 2 host devices)."""
    devices = jax.devices()
    if len(devices) == 1 or size % len(devices):
        return None
    mesh = jax.sharding.Mesh(np.asarray(devices), ("trials",))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("trials"))  # type: ignore[no-untyped-call]


def _placed(inputs: _Inputs, sharding: Any) -> _Inputs:
    """``inputs`` split over the devices along the trial axis (unchanged when ``sharding`` is None)."""
    return inputs if sharding is None else jax.device_put(inputs, sharding)


def device_info() -> dict[str, Any]:
    """JAX's backend, device kind and count, and version in this process."""
    devices = jax.devices()
    return {
        "backend": jax.default_backend(),
        "device_kind": devices[0].device_kind,
        "device_count": len(devices),
        "jax_version": jax.__version__,
    }


class _Prepared(NamedTuple):
    """A checked batch and what its programs need (see :func:`_prepare`)."""

    configs: list[TrialConfig]
    size: int
    program: TrialConfig
    env: Any
    base: Any
    eval_env: Any
    eval_base: Any
    inputs: _Inputs

    def spec(self, algorithm: str, config: Any) -> _Slice:
        """The slice's programs for ``algorithm`` (its learner ``config``), sharing pools when the
        batch has one seed."""
        p = self.program
        shared = len(set(np.asarray(self.inputs.seed).tolist())) == 1
        return _Slice(algorithm, config, self.env, self.eval_env, p.reward_scale, p.eval_episodes, p.env.max_steps,
                      shared)


def _prepare(trials: Sequence[Trial], batch_size: int | None, pool_mb: float) -> _Prepared:
    """Check a batch and build what its programs need from its slice key (:func:`program_trial`),
    not from any one trial: the training env and params (K scored by the slice), the evaluation
    env and params (K = 1: the market as it is, or the training env itself when the trial's
    ``evaluation`` is ``"training_env"``) and the inputs (padded with copies of the last trial
    to ``batch_size``, and to at least :data:`MIN_PROGRAM_BATCH`); both pools capped at ``pool_mb``."""
    if not trials:
        raise ValueError("a batch needs at least one trial")
    if batch_size is not None and batch_size < len(trials):
        raise ValueError(
            f"a batch holds at most batch_size={batch_size} trials; got {len(trials)} (use jax_engine.batches)"
        )
    size = max(batch_size or len(trials), MIN_PROGRAM_BATCH)
    keys = {slice_key(t.config) for t in trials}
    if len(keys) > 1:
        raise ValueError(
            f"a batch holds trials of one slice; got {len(trials)} trials in {len(keys)} slices "
            "(use jax_engine.batches)"
        )
    configs = [TrialConfig.from_mapping(t.config) for t in trials]
    program = program_trial(keys.pop())
    behaviour = load_behaviour(program.env.market.data_source)
    env, base = jax_env.make(program.env, behaviour, spacing_mb=pool_mb)
    eval_env, eval_base = jax_env.make(evaluation_env(program), behaviour, spacing_mb=pool_mb)
    padded = list(range(len(trials))) + [len(trials) - 1] * (size - len(trials))
    inputs = _inputs([configs[i] for i in padded], [trials[i].seed for i in padded])
    return _Prepared(configs, size, program, env, base, eval_env, eval_base, inputs)


def _evaluation_rows(
    spec: _Slice, configs: Sequence[TrialConfig], eval_base: Any, policies: Any, inputs: _Inputs,
    xla_options: Mapping[str, str],
) -> tuple[list[dict[str, Any]], float, float]:
    """Evaluate a batch's policies; returns (metrics at the three shares per trial, compile and eval seconds)."""
    program, compile_seconds = _compiled("evaluate", spec.evaluate, (eval_base, policies, inputs), spec, xla_options)
    start = time.perf_counter()
    metrics = jax.device_get(program(eval_base, policies, inputs))
    seconds = time.perf_counter() - start
    rows = []
    for i, trial in enumerate(configs):
        at = [{name: float(values[i, j]) for name, values in metrics.items()} for j in range(3)]
        rows.append(stress_summary(at[0], at[1], at[2], trial.stress_shares))
    return rows, compile_seconds, seconds


def evaluate_constant(
    trials: Sequence[Trial], actions: Sequence[int], batch_size: int | None = None,
    xla_options: Mapping[str, str] = XLA_OPTIONS, pool_mb: float = jax_env.POOL_SPACING_MB,
) -> list[dict[str, Any]]:
    """Evaluate a fixed action per trial (a constant price scale) exactly as :func:`run_batch`
    evaluates the trial's learner: same evaluation envs and keys, so the two compare with common
    random numbers (pass the batch record's ``xla_options`` and ``pool_mb``). Returns the
    evaluation metrics (no training figures) per trial."""
    ready = _prepare(trials, batch_size, pool_mb)
    padded = list(actions) + [actions[-1]] * (ready.size - len(actions))
    return _evaluation_rows(
        ready.spec(CONSTANT, None), ready.configs, ready.eval_base, np.asarray(padded, np.int32), ready.inputs,
        xla_options,
    )[0]


def use_compile_cache(folder: str | Path) -> None:
    """Keep this process's compiled programs in ``folder`` too (JAX's persistent compilation cache,
    a process-wide setting): another process, a resumed sweep or another Ray worker on the same
    machine then loads a program instead of compiling it (entries are keyed by the program and
    the jax/XLA versions, so a code change never reuses a stale one)."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))  # type: ignore[no-untyped-call]


class _Trained(NamedTuple):
    """A batch after training: what :func:`run_batch` evaluates and records."""

    ready: _Prepared
    spec: _Slice
    inputs: _Inputs
    sharding: Any
    policies: Any
    rewards: Any
    revenues: Any
    compile_seconds: float
    train_seconds: float


def _train(
    trials: Sequence[Trial], batch_size: int | None, xla_options: Mapping[str, str], pool_mb: float
) -> _Trained:
    """Train one batch (:func:`_prepare`) with its slice's compiled program."""
    ready = _prepare(trials, batch_size, pool_mb)
    sharding = trial_sharding(ready.size)
    inputs = _placed(ready.inputs, sharding)
    spec = ready.spec(ready.program.algorithm, learner_config(ready.program))
    program, compile_seconds = _compiled("train", spec.train, (ready.base, inputs), spec, xla_options)
    start = time.perf_counter()
    policies, (rewards, revenues) = jax.block_until_ready(program(ready.base, inputs))  # type: ignore[no-untyped-call]
    return _Trained(ready, spec, inputs, sharding, policies, rewards, revenues, compile_seconds,
                    time.perf_counter() - start)


def train_policies(
    trials: Sequence[Trial], batch_size: int | None = None, xla_options: Mapping[str, str] = XLA_OPTIONS,
    pool_mb: float = jax_env.POOL_SPACING_MB,
) -> Any:
    """The trained policies of a batch of trials of one slice, as :func:`run_batch` trains them.

    Returns:
        the learner's policy pytree (PPO/A2C: :class:`~phantom_lib.study.jax.actor_critic.ActorCritic`,
        DQN: the Q-network's layers, Q-table: the table), every leaf with a leading axis of
        ``len(trials)`` (padding dropped), as numpy arrays.
    """
    trained = _train(trials, batch_size, xla_options, pool_mb)
    return jax.tree.map(lambda leaf: np.asarray(leaf)[: len(trials)], trained.policies)


def run_batch(
    trials: Sequence[Trial], batch_size: int | None = None, compile_cache: str | Path | None = None,
    xla_options: Mapping[str, str] = XLA_OPTIONS, pool_mb: float = jax_env.POOL_SPACING_MB,
) -> tuple[list[dict[str, Any]], BatchRecord]:
    """Train and evaluate one batch of trials of one slice with compiled programs.

    Args:
        trials: trials of one slice (:func:`batches`), at most ``batch_size``.
        batch_size: program batch size (default: ``len(trials)``, at least
            :data:`MIN_PROGRAM_BATCH`); missing trials are padded with copies of the last one,
            whose results are dropped.
        compile_cache: a folder for :func:`use_compile_cache` (None: compile in memory only).
        xla_options: XLA compile options (default :data:`XLA_OPTIONS`; :data:`LEGACY_XLA_OPTIONS`
            re-runs a batch recorded before them, at its recorded size).
        pool_mb: memory cap of the market pools' spacing blocks, MB (default
            :data:`phantom_lib.sim.jax_env.POOL_SPACING_MB`; a batch's record says what it used,
            :data:`LEGACY_POOL_MB` when it does not).

    Returns:
        ``(metrics per trial, record)``: the metrics of :data:`phantom_lib.study.common.METRICS`
        for each trial, in order, and the batch's :class:`BatchRecord`.
    """
    if compile_cache is not None:
        use_compile_cache(compile_cache)
    t = _train(trials, batch_size, xla_options, pool_mb)
    configs = t.ready.configs
    rows, compile_eval, eval_seconds = _evaluation_rows(
        t.spec, configs, t.ready.eval_base, t.policies, t.inputs, xla_options
    )
    rewards, revenues = np.asarray(t.rewards), np.asarray(t.revenues)
    for i, (row, trial) in enumerate(zip(rows, configs)):
        row["eval_seconds"] = eval_seconds / len(trials)
        row.update(training_record(rewards[i], revenues[i], t.train_seconds / len(trials), trial.curve_points))
    record = BatchRecord(
        dict(slice_key(trials[0].config)),
        [trial.trial_id for trial in trials],
        [trial.seed for trial in trials],
        t.ready.size,
        t.ready.size - len(trials),
        t.compile_seconds + compile_eval,
        t.train_seconds,
        eval_seconds,
        "jax",
        **device_info(),
        devices_used=1 if t.sharding is None else jax.device_count(),
        xla_options=dict(xla_options),
        pool_mb=float(pool_mb),
    )
    return rows, record
