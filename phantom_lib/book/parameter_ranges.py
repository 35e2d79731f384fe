"""The allowed range of each chapter parameter, declared once as data (checked before the kernel starts).

A chapter's ``parameters`` cell gives each parameter's type (its default's); :data:`RANGES` gives
what values make sense, by name: the same name means the same thing in every chapter (``seed``,
``n_boot``, ``data_source``). Each entry is one of the :mod:`phantom_lib._validation` helpers with
its bounds, called as ``test(owner, name, value)`` and returning ``None`` or one
``Owner.name = value: expected ...`` line; a list parameter's test applies to each item. A name
not in the table is checked for its type only. ``data_source`` is checked by
:func:`data_source_problem` (a readable, valid data file, ``"standin"`` or a reachable ``"hub"``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from phantom_lib._validation import choice, each, integer, problem, real

Test = Callable[[str, str, Any], "str | None"]

COUNT: Test = partial(integer, low=1)
"""How many of something: draws, steps, resamples, folds, sessions (at least 1)."""
NON_NEGATIVE: Test = partial(integer, low=0)
PROBABILITY: Test = partial(real, low=0.0, high=1.0)
OPEN_PROBABILITY: Test = partial(real, low=0.0, high=1.0, low_open=True, high_open=True)
POSITIVE: Test = partial(real, low=0.0, low_open=True)

_COUNTS = ("bench_n", "benchmark_events", "boost_iterations", "coalition_size", "defence_steps", "demo_timesteps",
           "equivalence_draws", "errata_sessions", "errata_steps", "importance_repeats", "logs_n_max", "max_len",
           "max_states", "mc_sessions", "min_count", "n_boot", "n_curve", "n_draws", "n_example", "n_max", "n_perm",
           "n_splits", "n_synthetic", "net_epochs", "power_n_agent", "power_n_human", "power_reps", "probe_draws",
           "probe_steps", "profile_steps", "recon_agents", "surge_periods", "synthetic_max_len", "tree_depth")

RANGES: dict[str, Test] = {
    **{name: COUNT for name in _COUNTS},
    "seed": NON_NEGATIVE,
    "bench_sizes": partial(each, test=COUNT),
    "power_sizes": partial(each, test=COUNT),
    "table_ns": partial(each, test=COUNT),
    "slope_window": partial(each, test=COUNT, min_length=2),
    "recon_depths": partial(each, test=NON_NEGATIVE),
    "alphas": partial(each, test=PROBABILITY),
    "map_alphas": partial(each, test=PROBABILITY),
    "map_alpha": PROBABILITY,
    "shrink_alphas": partial(each, test=PROBABILITY),
    "map_agent_mus": partial(each, test=real),
    "map_agent_sds": partial(each, test=partial(real, low=0.0)),
    "shrink_seeds": partial(each, test=NON_NEGATIVE),
    "shrink_timesteps": NON_NEGATIVE,
    "power_effects": partial(each, test=PROBABILITY),
    "power_size_effects": partial(each, test=PROBABILITY),
    "headline_alpha": PROBABILITY,
    "synthetic_agent_share": PROBABILITY,
    "power_alpha": OPEN_PROBABILITY,
    "power_target": OPEN_PROBABILITY,
    "kl_pseudocount": POSITIVE,
    "kl_pseudocounts": partial(each, test=POSITIVE),
    "temperature": POSITIVE,
    "temperatures": partial(each, test=POSITIVE),
    "markup": partial(real, low=0.0),
    "p_min": POSITIVE,
    "p_max": POSITIVE,
    "surge_base_price": POSITIVE,
    "rho_low": POSITIVE,
    "rho_high": POSITIVE,
    "engine": partial(choice, options=("jax", "sb3")),
    "bench": partial(choice, options=("full", "quick")),
    "granularity": partial(choice, options=("event", "fine")),
    "defence_detector": partial(choice, options=("kl", "perfect")),
}
"""Allowed values by parameter name (see the module docstring)."""


def range_problem(owner: str, name: str, value: Any) -> str | None:
    """``None`` if ``value`` is within ``name``'s range (or ``name`` has none), else one problem line."""
    test = RANGES.get(name)
    return None if test is None else test(owner, name, value)


def data_source_problem(owner: str, value: Any) -> str | None:
    """``None`` if ``data_source`` can be read: ``"standin"``, a reachable ``"hub"``, or a file that
    loads and passes the schema check (:func:`phantom_lib.data.sources.load`); else one problem line
    with the loader's own reason."""
    from phantom_lib.data.schema import WhoClickedValidationError
    from phantom_lib.data.sources import (
        WhoClickedSourceError,
        hub_unavailable_reason,
        load,
    )

    if value == "standin":
        return None
    if value == "hub":
        reason = hub_unavailable_reason()
        return None if reason is None else problem(owner, "data_source", value, f"a reachable hub ({reason})")
    try:
        load(value)
    except (WhoClickedSourceError, WhoClickedValidationError, OSError) as err:
        first = str(err).strip().splitlines()[0]
        return problem(owner, "data_source", value, f"'standin', 'hub' or a readable whoclicked.csv ({first})")
    return None
