"""Provenance no one edits, checked on hand-made git repositories: what the tree state records, how
a folder without a manifest is audited from git's history, when a pre-registration counts as fixed
before the data, and that a pre-registration must be committed and unchanged."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from phantom_lib.study.design import manifest, prereg, vcs

PREREG = """
title = "A hand-made study"
registered_after_data = false
registered_on = 2026-12-06
unit_of_resampling = { unit = "seed", reason = "trials of one seed share nothing else" }

[[hypotheses]]
id = "h"
statement = "x rises"

[[estimands]]
id = "e"
definition = "mean x"

[[rules]]
id = "r"
statement = "holds when e > 1"
reason = "1 is the no-effect level"

[[margins]]
name = "e"
value = 0.1
reason = "a tenth is the smallest change that matters here"
"""


def sh(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    sh(root, "init", "-q")
    sh(root, "config", "user.email", "t@example.invalid")
    sh(root, "config", "user.name", "t")
    (root / "a.txt").write_text("one\n")
    sh(root, "add", "a.txt")
    sh(root, "commit", "-qm", "first")
    return root


def commit_all(repo: Path, message: str) -> str:
    sh(repo, "add", "-A")
    sh(repo, "commit", "-qm", message)
    return sh(repo, "rev-parse", "HEAD")


def test_tree_state_is_the_bare_commit_the_diff_hash_and_the_dirty_paths(repo: Path):
    clean = vcs.tree_state(repo)
    head = sh(repo, "rev-parse", "HEAD")
    assert clean == {"git_commit": head, "git_dirty": False, "git_diff_sha256": hashlib.sha256(b"").hexdigest(),
                     "git_dirty_paths": []}
    (repo / "a.txt").write_text("two\n")
    (repo / "new.py").write_text("x = 1\n")
    (repo / "out").mkdir()
    (repo / "out" / "trial.parquet").write_text("not code")
    dirty = vcs.tree_state(repo, exclude=repo / "out")
    diff = subprocess.run(
        ["git", "-C", str(repo), "diff", "HEAD", "--no-ext-diff", "--binary"], capture_output=True
    ).stdout
    assert dirty == {
        "git_commit": head,
        "git_dirty": True,
        "git_diff_sha256": hashlib.sha256(diff).hexdigest(),
        "git_dirty_paths": ["a.txt", "new.py"],
    }
    assert "-dirty" not in dirty["git_commit"] and len(dirty["git_commit"]) == 40


def test_outside_a_work_tree_the_state_says_unknown(tmp_path: Path):
    assert vcs.tree_state(tmp_path) == {
        "git_commit": "unknown",
        "git_dirty": False,
        "git_diff_sha256": None,
        "git_dirty_paths": [],
    }


def test_a_folder_without_a_manifest_is_audited_from_git_history(repo: Path):
    folder = repo / "data" / "results" / "old"
    folder.mkdir(parents=True)
    (folder / "provenance.json").write_text('{"git_commit": "abc-dirty"}\n')
    assert manifest.audit(folder).detail == "no manifest: provenance.json not committed"
    commit_all(repo, "results")
    assert manifest.audit(folder).detail == "no manifest"
    (folder / "provenance.json").write_text('{"git_commit": "abc"}\n')
    edit = commit_all(repo, "tidy provenance")
    found = manifest.audit(folder)
    assert (found.status, found.detail) == (
        "no manifest",
        f"no manifest: provenance edited after the run (commit {edit[:12]})",
    )
    assert not found.ok


def manifested(folder: Path, record: dict) -> Path:
    folder.mkdir(parents=True)
    (folder / "provenance.json").write_text(json.dumps(record))
    (folder / "results.parquet").write_bytes(b"rows")
    manifest.write_manifest(folder, "test")
    return folder


def test_a_manifested_folder_fails_on_a_foreign_commit_uncommitted_code_and_added_files(repo: Path):
    head = sh(repo, "rev-parse", "HEAD")
    good = manifested(repo / "good", {"git_commit": head, "git_dirty_paths": ["notebooks/06.md"]})
    assert manifest.audit(good).ok
    foreign = manifested(repo / "foreign", {"git_commit": "1" * 40, "git_dirty_paths": []})
    assert manifest.audit(foreign).problems == []  # git cannot tell about an unknown commit: not claimed
    other = sh(repo, "commit-tree", "HEAD^{tree}", "-m", "unrelated history")  # a commit with no parent
    elsewhere = manifested(repo / "elsewhere", {"git_commit": other, "git_dirty_paths": []})
    assert manifest.audit(elsewhere).problems == [
        f"{elsewhere}: commit {other[:12]} is not in the history of HEAD: re-run from a commit on main"
    ]
    code = manifested(repo / "code", {"git_commit": head, "git_dirty_paths": ["phantom_lib/sim/market.py"]})
    assert manifest.audit(code).problems == [
        f"{code}: ran with uncommitted code (phantom_lib/sim/market.py): re-run from a clean tree"
    ]
    (good / "notes.txt").write_text("added later")
    (good / "results.parquet").unlink()
    assert manifest.audit(good).problems == [
        f"{good / 'results.parquet'}: listed in the manifest but missing",
        f"{good / 'notes.txt'}: not in the manifest (added after the run)",
    ]
    assert manifest.audit(good).status == "manifest mismatch"


def test_a_preregistration_must_be_committed_and_unchanged(repo: Path):
    path = repo / "study.prereg.toml"
    path.write_text(PREREG)
    with pytest.raises(
        prereg.PreregistrationError, match=r"is not committed: commit it before the run \(git add study"
    ):
        prereg.require_committed(path)
    commit = commit_all(repo, "pre-register")
    record = prereg.require_committed(path)
    assert record == {
        "path": "study.prereg.toml",
        "repository": str(repo),
        "commit": commit,
        "repo_head": commit,
        "sha256": hashlib.sha256(PREREG.encode()).hexdigest(),
        "registered_after_data": False,
        "registered_on": "2026-12-06",
    }
    path.write_text(PREREG + "\n# one more line\n")
    with pytest.raises(prereg.PreregistrationError, match="differs from HEAD"):
        prereg.require_committed(path)
    sh(repo, "add", "study.prereg.toml")  # staged is not committed
    with pytest.raises(prereg.PreregistrationError, match="differs from HEAD"):
        prereg.require_committed(path)


@pytest.mark.parametrize(
    "old,new,message",
    [
        ('reason = "1 is the no-effect level"', "", r"rules\[0\] = .*missing: reason"),
        (
            "registered_after_data = false",
            'registered_after_data = "no"',
            "registered_after_data = 'no': expected true or false",
        ),
        ("registered_on = 2026-12-06", 'registered_on = "soon"', "registered_on = 'soon': expected a TOML date"),
        ('reason = "a tenth is the smallest change that matters here"', "", r"margins\[0\] = .*missing: reason"),
    ],
)
def test_a_bad_preregistration_is_one_line(tmp_path: Path, old: str, new: str, message: str):
    path = tmp_path / "p.toml"
    path.write_text(PREREG.replace(old, new))
    with pytest.raises(prereg.PreregistrationError, match=message) as info:
        prereg.read(path)
    assert "\n" not in str(info.value)
    path.write_text(PREREG)
    assert prereg.read(path)["title"] == "A hand-made study"


def folder_with(tmp_path: Path, name: str, record: dict) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "provenance.json").write_text(json.dumps(record))
    return folder


def test_fixed_before_data_is_an_ancestor_relation_and_the_files_own_declaration(repo: Path, tmp_path: Path):
    path = repo / "study.prereg.toml"
    path.write_text(PREREG)
    first = commit_all(repo, "pre-register")
    path.write_text(PREREG.replace("e > 1", "e > 2"))
    second = commit_all(repo, "change the rule")
    entry = {
        "path": "study.prereg.toml",
        "repository": str(repo),
        "sha256": "x",
        "registered_after_data": False,
        "registered_on": "2026-12-06",
    }
    before = folder_with(tmp_path, "before", {"preregistration": [{**entry, "commit": first, "repo_head": second}]})
    after = folder_with(tmp_path, "after", {"preregistration": [{**entry, "commit": second, "repo_head": first}]})
    declared = folder_with(
        tmp_path,
        "declared",
        {"preregistration": [{**entry, "commit": first, "repo_head": second, "registered_after_data": True}]},
    )
    legacy = folder_with(tmp_path, "legacy", {"git_commit": first})
    assert [r["fixed_before_data"] for r in prereg.fixed_before_data(before)] == [True]
    assert prereg.fixed_before_data(after)[0]["fixed_before_data"] is False
    assert prereg.fixed_before_data(after)[0]["status"].startswith("not fixed before the data: commit")
    assert prereg.fixed_before_data(declared)[0]["status"] == "registered after the data (2026-12-06)"
    assert prereg.fixed_before_data(legacy) == [
        {"path": None, "fixed_before_data": False, "status": "none recorded (run before pre-registration)"}
    ]


REGISTERED_BEFORE_THE_DATA = {"sales"}
"""Built-in studies whose pre-registration was committed before their run (issue 23); the others were
written after their results existed and must say so."""


def test_the_builtin_preregistrations_say_whether_they_came_after_the_data():
    from phantom_lib.study.design import files

    for name, plan in files.BUILTIN.items():
        if plan.kind == "study":
            after = prereg.read(plan.preregistration)["registered_after_data"]
            assert after is (name not in REGISTERED_BEFORE_THE_DATA), name
