"""What git says about the code and files a study ran from: the commit, what was uncommitted, and
when a file was last committed.

Every function takes the folder to ask (any path inside a work tree) and answers ``None`` (or an
empty answer) when that folder is not in a git work tree or git is missing, so a record written
outside a checkout says so instead of failing.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any


def git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes] | None:
    """``git -C root ARGS`` (output as bytes), or ``None`` when git cannot be run."""
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False)
    except OSError:
        return None


def _text(root: Path, *args: str) -> str | None:
    """Stripped standard output of a git command that succeeded, else ``None``."""
    done = git(root, *args)
    return done.stdout.decode().strip() if done is not None and done.returncode == 0 else None


def toplevel(path: Path) -> Path | None:
    """The root of the work tree holding ``path`` (a file or folder), or ``None``."""
    folder = path if path.is_dir() else path.parent
    found = _text(folder, "rev-parse", "--show-toplevel")
    return Path(found) if found else None


def head(root: Path) -> str | None:
    """The bare 40-hex commit checked out at ``root`` (no ``-dirty`` suffix), or ``None``."""
    return _text(root, "rev-parse", "--verify", "HEAD")


def dirty_paths(root: Path, exclude: Path | None = None) -> list[str]:
    """Paths (relative to the work tree) that differ from HEAD: modified, staged, deleted or
    untracked and not ignored; anything inside ``exclude`` (a sweep's own output folder) left out."""
    done = git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all")
    if done is None or done.returncode != 0:
        return []
    entries = [e for e in done.stdout.decode().split("\0") if e]
    paths, skip = [], False
    for entry in entries:  # a rename is "R  new\0old": the old name follows as its own entry
        if skip:
            skip = False
            continue
        skip = entry[0] in "RC"
        paths.append(entry[3:])
    top = toplevel(root)
    if exclude is not None and top is not None:
        inside = Path(exclude).resolve()
        paths = [p for p in paths if not (top / p).resolve().is_relative_to(inside)]
    return sorted(paths)


def diff_sha256(root: Path) -> str | None:
    """sha256 of ``git diff HEAD`` (the uncommitted edits to tracked files; untracked files are
    listed by :func:`dirty_paths`, not hashed), or ``None`` outside a work tree."""
    done = git(root, "diff", "HEAD", "--no-ext-diff", "--binary")
    if done is None or done.returncode != 0:
        return None
    return hashlib.sha256(done.stdout).hexdigest()


def tree_state(root: Path, exclude: Path | None = None) -> dict[str, Any]:
    """The provenance of the code at ``root``: ``git_commit`` (bare), ``git_dirty``,
    ``git_diff_sha256`` and ``git_dirty_paths`` (see :func:`dirty_paths`)."""
    paths = dirty_paths(root, exclude)
    return {"git_commit": head(root) or "unknown", "git_dirty": bool(paths),
            "git_diff_sha256": diff_sha256(root), "git_dirty_paths": paths}


def last_commit(path: Path) -> str | None:
    """The last commit that touched ``path`` (a file), or ``None`` if it was never committed."""
    top = toplevel(path)
    if top is None:
        return None
    return _text(top, "log", "-1", "--format=%H", "--", str(path.resolve().relative_to(top.resolve()))) or None


def commits_touching(path: Path) -> list[str]:
    """Every commit that touched ``path`` (file or folder), newest first."""
    top = toplevel(path)
    if top is None:
        return []
    found = _text(top, "log", "--format=%H", "--", str(path.resolve().relative_to(top.resolve())))
    return found.split() if found else []


def is_ancestor(ancestor: str, commit: str, root: Path) -> bool | None:
    """Whether ``ancestor`` is ``commit`` or in its history; ``None`` when git cannot tell (not a
    work tree, an unknown commit, a shallow clone without it)."""
    done = git(root, "merge-base", "--is-ancestor", ancestor, commit)
    if done is None or done.returncode not in (0, 1):
        return None
    return done.returncode == 0
