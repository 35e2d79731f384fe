"""A result folder's manifest: the sha256 of every file the runner wrote, so an edit made after the
run is found, and :func:`audit`, which says for a folder whether its record can be trusted.

The runner writes ``manifest.json`` after the last trial of each run (never by hand)::

    {"written_by": "phantom_lib.study.run.runner", "written_utc": "...",
     "files": {"provenance.json": "<sha256>", "results.parquet": "<sha256>", "runs.jsonl": "<sha256>"}}

It lists the folder's top-level files (the record: results, provenance, run and batch logs) but
not ``trials/`` (one file per trial, the working state ``results.parquet`` gathers; a committed
result need not keep it), the lock file nor itself.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phantom_lib.study.design import vcs
from phantom_lib.study.design.store import LOCK_NAME

MANIFEST_NAME = "manifest.json"

UNLISTED = (MANIFEST_NAME, LOCK_NAME)
"""Top-level files a manifest does not list."""

CODE_PATHS = ("phantom_lib/", "pyproject.toml")
"""Uncommitted edits under these paths change what a run computes (a run from such a tree is not
reproducible from its commit)."""


def sha256(path: Path) -> str:
    """Hex sha256 of the file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _listed(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name not in UNLISTED)


def write_manifest(folder: Path, writer: str) -> dict[str, Any]:
    """Write ``folder/manifest.json`` over the folder's top-level files (``writer``: the module that
    wrote them) and return it."""
    folder = Path(folder)
    record = {"written_by": writer, "written_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "files": {p.name: sha256(p) for p in _listed(folder)}}
    (folder / MANIFEST_NAME).write_text(json.dumps(record, indent=2) + "\n")
    return record


def manifest_problems(folder: Path) -> list[str]:
    """One line per file that does not match ``folder/manifest.json``: changed, missing, or not
    listed (added after the run). Empty when everything matches."""
    folder = Path(folder)
    files = json.loads((folder / MANIFEST_NAME).read_text())["files"]
    problems = []
    for name, digest in sorted(files.items()):
        path = folder / name
        if not path.is_file():
            problems.append(f"{path}: listed in the manifest but missing")
        elif sha256(path) != digest:
            problems.append(f"{path}: sha256 differs from the manifest (edited after the run)")
    problems += [f"{p}: not in the manifest (added after the run)" for p in _listed(folder) if p.name not in files]
    return problems


@dataclass(frozen=True)
class Audit:
    """What can be trusted about one result folder.

    Attributes:
        folder: the result folder.
        status: ``"manifest ok"``, ``"manifest mismatch"`` or ``"no manifest"``.
        detail: one line: the first problem, or for a folder without a manifest what git's history says.
        problems: every problem found (manifest, commit not an ancestor, uncommitted code).
    """

    folder: Path
    status: str
    detail: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the manifest matches and nothing else is wrong."""
        return self.status == "manifest ok" and not self.problems


def _history_detail(folder: Path) -> str:
    """For a folder without a manifest: whether git's history shows its provenance edited after the run."""
    commits = vcs.commits_touching(folder / "provenance.json")
    if len(commits) > 1:
        return f"no manifest: provenance edited after the run (commit {commits[0][:12]})"
    return "no manifest" + ("" if commits else ": provenance.json not committed")


def _record_problems(folder: Path, record: dict[str, Any], repo: Path) -> list[str]:
    """The run's commit is in ``repo``'s history, and no code was uncommitted when it ran."""
    problems = []
    commit = str(record.get("git_commit", ""))
    if len(commit) != 40:
        problems.append(f"{folder}: git_commit {commit!r} is not a bare commit id")
    elif vcs.is_ancestor(commit, "HEAD", repo) is False:
        problems.append(f"{folder}: commit {commit[:12]} is not in the history of HEAD: re-run from a commit on main")
    code = [p for p in record.get("git_dirty_paths", []) if p.startswith(CODE_PATHS)]
    if code:
        problems.append(f"{folder}: ran with uncommitted code ({', '.join(code[:3])}): re-run from a clean tree")
    return problems


def audit(folder: Path, repo: Path | None = None) -> Audit:
    """Audit the result ``folder``: its manifest against its files, its commit against ``repo``'s
    history (default: the work tree holding the folder) and its dirty paths against :data:`CODE_PATHS`."""
    folder = Path(folder)
    repo = repo or vcs.toplevel(folder) or folder
    if not (folder / MANIFEST_NAME).is_file():
        detail = _history_detail(folder)
        return Audit(folder, "no manifest", detail, [detail])
    mismatched = manifest_problems(folder)
    try:
        record = json.loads((folder / "provenance.json").read_text())
    except (OSError, ValueError) as err:
        record, mismatched = {}, mismatched + [f"{folder / 'provenance.json'}: cannot be read ({err})"]
    problems = mismatched + _record_problems(folder, record, repo)
    status = "manifest mismatch" if mismatched else "manifest ok"
    return Audit(folder, status, problems[0] if problems else "manifest ok", problems)
