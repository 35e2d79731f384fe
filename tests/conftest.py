"""Shared fixtures: one smoke build of the whole book and one Ray cluster per test session."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

from phantom_lib.book import build as book

ROOT = book.repo_root()

# Shared test helpers (_simulator_cases, _notebooks) live beside this file; the tests mirror the
# library's subpackages in sub-folders, so make the helpers importable from every one of them.
sys.path.insert(0, str(Path(__file__).resolve().parent))

BOOK_FILES = ["_config.yml", "_toc.yml"]
BOOK_TREES = ["book", "notebooks"]
LINKED = ["data", "references.bib"]


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the book's sources, executed and built in the smoke profile; returns its root.

    Built once per test session (a few minutes: every chapter runs) and shared by the tests
    that read the HTML (pages and figures, the browser check). The repository's own
    ``book/chapters`` and ``_build`` are left alone.
    """
    root = tmp_path_factory.mktemp("smoke-book")
    for name in BOOK_FILES:
        shutil.copy(ROOT / name, root / name)
    for name in BOOK_TREES:
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("chapters"))
    for name in LINKED:
        if (ROOT / name).exists():
            os.symlink(ROOT / name, root / name)
    book.build_book("smoke", root=root)
    return root


@pytest.fixture(scope="session")
def ray_cluster():
    """A one-machine Ray cluster, started once for the whole test session the way a sweep starts it
    (loopback only, Ray's token authentication left on)."""
    # not importorskip: ray is imported by connect, after its loopback switch
    if importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not installed")
    from phantom_lib.study.run import ray_backend

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray_backend.connect(None, num_cpus=2)
    import ray

    yield ray
    ray_backend.disconnect()


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop the engine's and JAX's compiled programs after each test module.

    Each program XLA's CPU backend compiles holds memory mappings until it is released (about
    1,000 for an engine program, tens for a small jitted function), and Linux allows a process
    65,530 (``vm.max_map_count``); the suite compiles thousands of programs in one process. The
    engine keeps at most ``PROGRAMS_KEPT``; this drops JAX's own caches too. Programs are rarely
    shared between modules, so little is compiled twice.
    """
    yield
    engine = sys.modules.get("phantom_lib.study.jax.engine")
    if engine is not None:
        engine.release_programs()
    elif "jax" in sys.modules:
        sys.modules["jax"].clear_caches()
