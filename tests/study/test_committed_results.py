"""The committed study results carry provenance no one edits: a manifest written by the runner that
matches every file, a bare commit that is in this repository's history, the data's fingerprint and
the engine. Every committed folder must have one: the last two committed before manifests existed
(as-run, as-written) were re-run and are kept in ``data/superseded/``."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from phantom_lib import data
from phantom_lib.study.design import manifest

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = sorted(p.parent for p in (ROOT / "data" / "results").glob("*/provenance.json"))

def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)


def full_history() -> bool:
    return (git("rev-parse", "--git-dir").returncode == 0
            and git("rev-parse", "--is-shallow-repository").stdout.strip() != "true")


def committed_problems(folder: Path) -> list[str]:
    """What is wrong with a committed result folder (empty: nothing), as its audit finds it."""
    return manifest.audit(folder, repo=ROOT).problems


def test_results_are_committed():
    assert COMMITTED, "no committed results under data/results/"


@pytest.mark.parametrize("folder", COMMITTED, ids=lambda p: p.name)
def test_each_committed_folder_matches_its_manifest(folder: Path):
    assert committed_problems(folder) == []


@pytest.mark.parametrize("folder", COMMITTED, ids=lambda p: p.name)
def test_the_recorded_commit_is_bare_and_reachable_from_head(folder: Path):
    if not full_history():
        pytest.skip("not a git checkout with its full history")
    commit = json.loads((folder / "provenance.json").read_text())["git_commit"]
    assert len(commit) == 40 and all(c in "0123456789abcdef" for c in commit), f"{folder.name}: {commit!r}"
    assert git("merge-base", "--is-ancestor", commit, "HEAD").returncode == 0, (
        f"{folder.name}: commit {commit[:12]} is not in the history of HEAD: re-run the study from a commit on main")


@pytest.mark.parametrize("folder", COMMITTED, ids=lambda p: p.name)
def test_the_recorded_data_is_the_shipped_stand_in_and_the_engine_is_named(folder: Path):
    record = json.loads((folder / "provenance.json").read_text())
    shipped = data.Provenance.from_dict(record["data"])
    assert shipped.synthetic, f"{folder.name}: results from the stand-in must say so"
    assert shipped.sha256 == hashlib.sha256(Path(data.STANDIN_PATH).read_bytes()).hexdigest(), (
        f"{folder.name}: data fingerprint differs from the shipped stand-in"
    )
    if "engine" in record:  # a sweep: one engine
        assert record["engine"]["name"] in ("sb3", "jax")
    else:  # the cross-check: both engines, and the versions of both
        engines = set(pd.read_parquet(folder / "trials.parquet")["engine"])
        assert {"sb3", "jax"} <= engines and {"stable-baselines3", "jax"} <= set(record["versions"])


def score(config, seed):
    return {"score": float(config["x"]) + seed}


@pytest.fixture(scope="module")
def manifested(tmp_path_factory) -> Path:
    """A result folder written by the runner (manifest included) from this checkout's HEAD."""
    from phantom_lib import study

    folder = tmp_path_factory.mktemp("committed") / "tiny"
    trials = study.design(study.StudyDesign({"x": (1, 2)}, seeds=(0,)))
    study.run_trials(trials, score, study.ResultsStore(folder), study.SweepOptions(executor="local", progress=False))
    return folder


def test_a_new_folder_without_a_manifest_fails_and_a_runner_written_one_passes(manifested: Path, tmp_path: Path):
    assert json.loads((manifested / "manifest.json").read_text())["written_by"] == "phantom_lib.study.run.runner"
    record = json.loads((manifested / "provenance.json").read_text())
    code = [p for p in record["git_dirty_paths"] if p.startswith(manifest.CODE_PATHS)]
    dirty = f"{manifested}: ran with uncommitted code ({', '.join(code[:3])}): re-run from a clean tree"
    assert committed_problems(manifested) == ([dirty] if code else [])
    bare = tmp_path / "new-study"
    bare.mkdir()
    for name in ("provenance.json", "results.parquet"):
        (bare / name).write_bytes((manifested / name).read_bytes())
    assert committed_problems(bare) and committed_problems(bare)[0].startswith("no manifest")


@pytest.mark.parametrize("name", ["provenance.json", "results.parquet", "runs.jsonl"])
def test_editing_any_byte_of_a_manifested_file_fails_naming_the_file(manifested: Path, tmp_path: Path, name: str):
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in manifested.iterdir():
        if path.is_file():
            (copy / path.name).write_bytes(path.read_bytes())
    size = (copy / name).stat().st_size
    for position in (0, size // 2, size - 1):  # first, middle and last byte
        raw = bytearray((manifested / name).read_bytes())
        raw[position] ^= 0x01
        (copy / name).write_bytes(bytes(raw))
        problems = committed_problems(copy)
        assert problems and problems[0] == f"{copy / name}: sha256 differs from the manifest (edited after the run)"
    (copy / name).write_bytes((manifested / name).read_bytes())
    assert manifest.manifest_problems(copy) == []


@pytest.mark.parametrize("folder", COMMITTED, ids=lambda f: f.name)
def test_a_preregistration_that_says_it_came_first_was_committed_before_the_run(folder: Path):
    """A pre-registration declaring ``registered_after_data = false`` must have been committed in an
    ancestor of the commit its study ran from (checked in this clone's history)."""
    from phantom_lib.study.design import prereg

    if not full_history():
        pytest.skip("a shallow clone cannot tell ancestry")
    for row in prereg.fixed_before_data(folder, repository=ROOT):
        if row.get("path") and not row["registered_after_data"]:
            assert row["fixed_before_data"] is True, row["status"]
