"""A user's own study, declared in a TOML file beside its pre-registration in the user's git
repository, run end to end through `phantom sweep --design FILE` and read back with
`study.load_results`; and every way it can be refused: one line, exit 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_study_provenance import PREREG, commit_all, sh

from phantom_lib import study
from phantom_lib.study.design import manifest, prereg

PHANTOM = Path(sys.executable).parent / "phantom"
WORKTREE = Path(__file__).resolve().parents[2]

DESIGN = """
name = "my-study"
kind = "study"
preregistration = "my-study.prereg.toml"
engine = "sb3"
seeds = [0]
baseline_twins = true
references = ["static"]

[factors]
algorithm = ["ppo"]
alpha0 = [0.1, 0.4]
eps_alpha = [0.15]
lambda_coi = [0.15]

[budget]
timesteps = 256
eval_episodes = 1
max_steps = 20
curve_points = 2

[market]
n_candidates = 3
"""


def phantom(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(WORKTREE), os.environ.get("PYTHONPATH")])))
    return subprocess.run([str(PHANTOM), "sweep", *args], capture_output=True, text=True, env=env, timeout=900)


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    root = tmp_path / "my-studies"
    root.mkdir()
    sh(root, "init", "-q")
    sh(root, "config", "user.email", "u@example.invalid")
    sh(root, "config", "user.name", "u")
    (root / "my-study.toml").write_text(DESIGN)
    (root / "my-study.prereg.toml").write_text(PREREG)
    return root


@pytest.mark.slow
def test_a_users_toml_design_runs_end_to_end_once_its_preregistration_is_committed(user_repo: Path, tmp_path: Path):
    design, out = user_repo / "my-study.toml", tmp_path / "out"
    refused = one_line(phantom("--design", str(design), "--out", str(out), "--executor", "local"))
    assert refused.startswith("phantom sweep: error: pre-registration ") and "is not committed" in refused
    assert not (out / "runs.jsonl").exists()
    commit = commit_all(user_repo, "design and pre-registration")

    done = phantom("--design", str(design), "--out", str(out), "--executor", "local")
    assert done.returncode == 0, done.stderr
    results = study.load_results(out)
    assert len(results.defended) == 2 and len(results.baseline) == 2 and len(results.references) == 2
    assert (results.learners["train_steps"] >= 256).all()
    record = results.provenance
    assert record["design_name"] == "my-study" and record["kind"] == "study" and record["engine"]["name"] == "sb3"
    assert record["design_file"]["path"] == str(design)
    [registered] = record["preregistration"]
    assert (registered["path"], registered["commit"]) == ("my-study.prereg.toml", commit)
    assert registered["sha256"] == manifest.sha256(user_repo / "my-study.prereg.toml")
    assert [r["status"] for r in prereg.fixed_before_data(out)] == [f"fixed before the data (commit {commit[:12]})"]
    assert manifest.manifest_problems(out) == []

    (user_repo / "my-study.prereg.toml").write_text(PREREG.replace("e > 1", "e > 0"))
    changed = one_line(phantom("--design", str(design), "--out", str(out), "--executor", "local", "--resume"))
    assert changed.endswith("differs from HEAD (uncommitted edits): commit or revert them before the run")
    commit_all(user_repo, "move the goalposts")
    moved = one_line(phantom("--design", str(design), "--out", str(out), "--executor", "local", "--resume"))
    assert moved == (f"phantom sweep: error: the pre-registration changed since the first run in {out} "
                     "(its sha256 differs): results under two sets of rules; use a new --out")


def test_a_bad_design_file_is_one_line(user_repo: Path, tmp_path: Path):
    design = user_repo / "my-study.toml"
    design.write_text(DESIGN.replace("alpha0 = [0.1, 0.4]", 'alpha0 = [0.1, "x"]'))
    line = one_line(phantom("--design", str(design), "--out", str(tmp_path / "out")))
    assert line == (f"phantom sweep: error: {design}: factors.alpha0 = 'x': expected a finite number in [0, 1]")
    design.write_text(DESIGN.replace("[budget]", "[budget"))
    assert "not valid TOML" in one_line(phantom("--design", str(design), "--out", str(tmp_path / "out")))


def test_the_old_profile_flag_names_design(tmp_path: Path):
    line = one_line(phantom("--profile", "smoke", "--out", str(tmp_path / "out")))
    assert line == ("phantom sweep: error: --profile is not a sweep option any more: name the study with "
                    "--design smoke (a built-in design or a .toml design file)")
    assert not (tmp_path / "out").exists()


def test_a_second_sweep_on_a_locked_folder_exits_1_naming_the_holder(tmp_path: Path):
    out = tmp_path / "out"
    with study.ResultsStore(out).lock():
        line = one_line(phantom("--design", "smoke", "--out", str(out), "--executor", "local"))
    assert line == (f"phantom sweep: error: {out} is in use by another run (pid {os.getpid()}): wait for it to "
                    "finish, or choose another --out")
    assert sorted(p.name for p in out.iterdir()) == [".lock"]
