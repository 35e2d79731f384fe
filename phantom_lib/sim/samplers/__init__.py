"""Market backends: three implementations of one model (:class:`phantom_lib.sim.market.Sampler`).

* ``reference``: mirrors the original engine's hot path (a string-keyed pandas frame of the
  expanded (E*N) x (E*N) matrix, one label lookup per sampled state), for profiling;
* ``numpy``: dense arrays, the factorised expansion, pre-drawn uniforms, all K*M sessions
  of a step advanced together;
* ``jax``: the same arrays jit-compiled, sampling in ``lax.scan``.
"""

from __future__ import annotations

import importlib

from phantom_lib.behaviour.model import Behaviour
from phantom_lib.sim.market import MarketConfig, Sampler

BACKENDS = ("reference", "numpy", "jax")
"""Names accepted by :func:`make_sampler` and ``EnvConfig.backend``."""


def make_sampler(backend: str, behaviour: Behaviour, config: MarketConfig) -> Sampler:
    """The market sampler of ``backend`` (one of :data:`BACKENDS`); jax is imported only if asked."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    module = importlib.import_module(f"phantom_lib.sim.samplers.{backend}")
    sampler: Sampler = module.SAMPLER(behaviour, config)
    return sampler
