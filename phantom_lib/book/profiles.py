"""Execution profiles: the one table of per-notebook parameter overrides.

A notebook's ``parameters`` cell holds the defaults of the ``full`` profile as plain
literals, with ``profile = None``. A profile maps chapter keys (e.g. ``"03_coi"``) to the
parameter values that replace those defaults. A chapter's key is the ``chapter`` entry of the
``phantom`` block in its front matter (:func:`phantom_lib.book.parameters.chapter_id`), which
a copy of the chapter keeps, so ``notebooks/08_my_coi.md`` copied from ``03_coi.md`` runs with
``03_coi``'s overrides; without the block the key is the file stem.

Two ways a profile reaches a notebook:

* ``phantom book`` / ``phantom run`` (papermill) inject ``profile`` and every resolved value;
* run directly (nbval, Jupyter), the cell after ``parameters`` calls :func:`apply`, which
  reads the profile from the environment variable :data:`ENV_VAR` when ``profile`` is still
  ``None`` (default ``"full"``).
"""

from __future__ import annotations

import os
from collections.abc import Collection, MutableMapping
from typing import Any

ENV_VAR = "PHANTOM_PROFILE"
"""Environment variable that selects the profile for notebooks run outside papermill."""

DATA_ENV_VAR = "PHANTOM_WHOCLICKED"
"""Environment variable naming a data file for every chapter (``PHANTOM_WHOCLICKED=/path make
book``): the book layer turns it into each chapter's ``data_source`` parameter; the library itself
never reads it."""

DEFAULT_PROFILE = "full"

# Each notebook keeps its own entry so that chapters can be tuned independently.
PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "smoke": {
        "01_dataset": {},
        "02_mdp": {"benchmark_events": 100_000},
        "03_coi": {"n_draws": 2000, "n_curve": 20, "surge_periods": 500},
        "04_distinguish": {
            "n_boot": 300,
            "n_perm": 300,
            "power_reps": 60,
            "power_effects": [0.0, 0.5, 1.0],
            "power_sizes": [5, 13, 30],
            "power_size_effects": [1.0],
        },
        "05_simulator": {"bench": "quick", "equivalence_draws": 150, "errata_sessions": 4000, "errata_steps": 100},
        "06_sweep": {"sweep_design": "smoke", "demo_timesteps": 100, "n_boot": 500},  # reads the committed results
        "07_detection": {
            "n_synthetic": 400,
            "n_boot": 200,
            "net_epochs": 100,
            "boost_iterations": 30,
            "importance_repeats": 1,
            "bench_sizes": [20_000, 50_000, 100_000],
            "alphas": [0.0, 0.3, 0.6],
            "defence_steps": 30,
            "recon_depths": [0, 1, 4],
            "recon_agents": 200,
        },
        "08_published": {"mc_sessions": 4000, "probe_draws": 40, "probe_steps": 60},  # reads the thesis's tables and the committed sweep
        "09_sales": {  # reads the committed sales study; without it, runs a shrunk copy of its design (a check)
            "rerun_if_missing": True, "engine": "sb3", "shrink_timesteps": 256, "n_draws": 4000, "n_boot": 300,
            "map_alphas": [0.0, 0.5, 1.0], "map_agent_mus": [20.0, 45.0, 80.0], "map_agent_sds": [5.0, 15.0],
        },
    },
    "full": {
        "01_dataset": {},
        "02_mdp": {},
        "03_coi": {},
        "04_distinguish": {},
        "05_simulator": {},
        "06_sweep": {},
        "07_detection": {},
        "08_published": {},
        "09_sales": {},
    },
}


def names() -> list[str]:
    """Return the known profile names."""
    return sorted(PROFILES)


def check_profile(profile: str) -> str:
    """Return ``profile`` if it is known, else raise ``ValueError`` naming the choices."""
    if profile not in PROFILES:
        raise ValueError(
            f"unknown profile {profile!r}: choose one of {', '.join(names())} "
            f"(set it with --profile or the {ENV_VAR} environment variable)"
        )
    return profile


def parameters(notebook: str, profile: str) -> dict[str, Any]:
    """Parameter overrides of ``profile`` for ``notebook`` (a key like ``"03_coi"``).

    Notebooks without an entry get no overrides (their literals are used).
    """
    return dict(PROFILES[check_profile(profile)].get(notebook, {}))


def env_profile() -> str:
    """The profile named by :data:`ENV_VAR`, or :data:`DEFAULT_PROFILE` when unset."""
    return check_profile(os.environ.get(ENV_VAR, "") or DEFAULT_PROFILE)


def data_override(known: Collection[str]) -> dict[str, str]:
    """``{"data_source": $PHANTOM_WHOCLICKED}`` when that variable is set and the chapter has a
    ``data_source`` parameter (``known`` lists its parameters), else ``{}``."""
    value = os.environ.get(DATA_ENV_VAR, "").strip()
    return {"data_source": value} if value and "data_source" in known else {}


def apply(namespace: MutableMapping[str, Any], notebook: str) -> str:
    """Settle a notebook's parameters in place and return the profile in force.

    ``namespace`` is the notebook's ``globals()``. If its ``profile`` is ``None`` the
    notebook runs outside papermill: the profile comes from :data:`ENV_VAR` and its
    overrides are written into ``namespace``, then :data:`DATA_ENV_VAR` (if set) into its
    ``data_source``. Otherwise the values were injected (or chosen by hand) and are left untouched.
    """
    profile = namespace.get("profile")
    if profile is None:
        profile = env_profile()
        namespace.update(parameters(notebook, profile))
        namespace.update(data_override(namespace))
        namespace["profile"] = profile
    return str(profile)
