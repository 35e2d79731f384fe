"""The committed study results carry provenance a reader can re-run: a commit that is in this
repository's history (reachable from the checked-out ``main``), the data's fingerprint, the engine."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from phantom_lib import data

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = sorted((ROOT / "data" / "results").glob("*/provenance.json"))


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)


def test_results_are_committed():
    assert COMMITTED, "no committed results under data/results/"


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.parent.name)
def test_the_recorded_commit_is_reachable_from_head(path: Path):
    if git("rev-parse", "--git-dir").returncode != 0:
        pytest.skip("not a git checkout")
    if git("rev-parse", "--is-shallow-repository").stdout.strip() == "true":
        pytest.skip("a shallow clone does not hold the history the commit is in")
    record = json.loads(path.read_text())
    commit = record["git_commit"].removesuffix("-dirty")  # -dirty: uncommitted edits were present, as recorded
    assert len(commit) == 40, f"{path}: git_commit {record['git_commit']!r} is not a commit id"
    assert git("merge-base", "--is-ancestor", commit, "HEAD").returncode == 0, (
        f"{path.parent.name}: commit {commit[:12]} is not in the history of HEAD: re-run the study from a commit on main")


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.parent.name)
def test_the_recorded_data_is_the_shipped_stand_in_and_the_engine_is_named(path: Path):
    record = json.loads(path.read_text())
    shipped = data.Provenance.from_dict(record["data"])
    assert shipped.synthetic, f"{path.parent.name}: results from the stand-in must say so"
    assert shipped.sha256 == hashlib.sha256(Path(data.STANDIN_PATH).read_bytes()).hexdigest(), f"{path.parent.name}: data fingerprint differs from the shipped stand-in"
    if "engine" in record:  # a sweep: one engine
        assert record["engine"]["name"] in ("sb3", "jax")
    else:  # the cross-check: both engines, and the versions of both
        engines = set(pd.read_parquet(path.parent / "trials.parquet")["engine"])
        assert {"sb3", "jax"} <= engines and {"stable-baselines3", "jax"} <= set(record["versions"])
