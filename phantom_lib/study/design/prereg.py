"""Pre-registration: the rules of a study, fixed in a committed file before its data exist.

A design file (:mod:`phantom_lib.study.design.files`) names a pre-registration file, TOML beside
it (e.g. ``factorial.prereg.toml``)::

    title = "Does the defence cost revenue?"
    registered_after_data = false      # true: written after results existed (say so, with the date)
    registered_on = 2026-12-01
    unit_of_resampling = { unit = "twin group", reason = "a cell and its twin share their market draws" }

    [[hypotheses]]
    id = "defence-cost"
    statement = "defended revenue is lower than its baseline twin's"

    [[estimands]]
    id = "revenue-delta"
    definition = "mean over twin groups of (defended - baseline) / baseline revenue, in %"

    [[rules]]
    id = "defence-cost"
    statement = "holds when the 95 % interval of revenue-delta lies below -margin"
    reason = "an interval below zero is a cost; the margin keeps a 0.1 % cost from counting"

    [[margins]]
    name = "revenue-delta"
    value = 1.0
    reason = "1 % of revenue is the smallest change a shop would act on"

    [[thresholds]]              # same keys as margins
    ...

:func:`require_committed` is what ``phantom sweep`` checks before it starts (the file is committed
and unchanged from HEAD) and returns the record kept in provenance (path, the last commit that
touched it, sha256); :func:`fixed_before_data` reads a result folder's provenance back and tells,
for each pre-registration, whether it was fixed before the data (its commit is an ancestor of the
commit the first run started from, and it does not declare itself registered after the data).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any

from phantom_lib.study.design import vcs

LISTS = {"hypotheses": ("id", "statement"), "estimands": ("id", "definition"),
         "rules": ("id", "statement", "reason"), "margins": ("name", "value", "reason"),
         "thresholds": ("name", "value", "reason")}
"""Lists of a pre-registration and the keys each item needs (margins and thresholds may be empty)."""

REQUIRED_NONEMPTY = ("hypotheses", "estimands", "rules")


class PreregistrationError(RuntimeError):
    """A pre-registration is missing, malformed, uncommitted or changed (one line: what and the fix)."""


def _problem(path: Path, key: str, value: Any, expected: str) -> PreregistrationError:
    return PreregistrationError(f"{path}: {key} = {value!r}: expected {expected}")


def _check_items(path: Path, data: dict[str, Any]) -> None:
    for name, keys in LISTS.items():
        items = data.get(name, [])
        if not isinstance(items, list) or (name in REQUIRED_NONEMPTY and not items):
            raise _problem(path, name, items, f"a non-empty array of tables [[{name}]] with {', '.join(keys)}"
                           if name in REQUIRED_NONEMPTY else f"an array of tables [[{name}]] with {', '.join(keys)}")
        for i, item in enumerate(items):
            missing = [k for k in keys if not isinstance(item, dict) or item.get(k) in (None, "")]
            if missing:
                raise _problem(
                    path, f"{name}[{i}]", item, f"a table with {', '.join(keys)} (missing: {', '.join(missing)})"
                )


def read(path: Path) -> dict[str, Any]:
    """The pre-registration at ``path``, checked: title, ``registered_after_data`` (true/false),
    ``registered_on`` (a date), ``unit_of_resampling`` {unit, reason} and the lists of :data:`LISTS`,
    every rule, margin and threshold with a reason. Raises :class:`PreregistrationError` (one line)."""
    path = Path(path)
    if not path.is_file():
        raise PreregistrationError(
            f"pre-registration {path} does not exist: write it (see "
            "phantom_lib/study/design/prereg.py for the format) or fix the design's path"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise PreregistrationError(f"{path}: not valid TOML ({err})") from None
    if not isinstance(data.get("title"), str) or not data["title"].strip():
        raise _problem(path, "title", data.get("title"), "a non-empty string")
    if not isinstance(data.get("registered_after_data"), bool):
        raise _problem(path, "registered_after_data", data.get("registered_after_data"), "true or false")
    if not isinstance(data.get("registered_on"), datetime.date):
        raise _problem(path, "registered_on", data.get("registered_on"), "a TOML date such as 2026-12-01")
    unit = data.get("unit_of_resampling")
    if not isinstance(unit, dict) or not unit.get("unit") or not unit.get("reason"):
        raise _problem(path, "unit_of_resampling", unit, "a table {unit = ..., reason = ...}")
    _check_items(path, data)
    return data


def _unchanged_problem(path: Path, top: Path) -> str | None:
    """Why ``path`` is not committed as it is now, or ``None`` when it is."""
    relative = str(path.resolve().relative_to(top.resolve()))
    tracked = vcs.git(top, "ls-files", "--error-unmatch", "--", relative)
    if tracked is None or tracked.returncode != 0 or vcs.last_commit(path) is None:
        return f"is not committed: commit it before the run (git add {relative} && git commit)"
    status = vcs.git(top, "status", "--porcelain", "--", relative)
    if status is None or status.stdout.strip():
        return "differs from HEAD (uncommitted edits): commit or revert them before the run"
    return None


def require_committed(path: Path) -> dict[str, Any]:
    """Check that the pre-registration at ``path`` is valid, committed and unchanged from HEAD, and
    return its provenance record: ``path`` (relative to its work tree), ``repository``, ``commit``
    (the last commit that touched it), ``repo_head`` (HEAD of its work tree now), ``sha256`` and
    ``registered_after_data`` / ``registered_on``. Raises :class:`PreregistrationError` (one line)."""
    path = Path(path)
    data = read(path)
    top = vcs.toplevel(path)
    if top is None:
        raise PreregistrationError(
            f"pre-registration {path} is not in a git work tree: commit it in a "
            "repository (git init; git add; git commit) so the run can name its commit"
        )
    problem = _unchanged_problem(path, top)
    if problem:
        raise PreregistrationError(f"pre-registration {path} {problem}")
    return {
        "path": str(path.resolve().relative_to(top.resolve())),
        "repository": str(top),
        "commit": vcs.last_commit(path),
        "repo_head": vcs.head(top),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "registered_after_data": data["registered_after_data"],
        "registered_on": str(data["registered_on"]),
    }


def _first_run_commit(record: dict[str, Any], prereg: dict[str, Any]) -> str | None:
    """The commit of the pre-registration's work tree when the folder's first run started."""
    return prereg.get("repo_head") or (record.get("runs") or [{}])[0].get("commit") or record.get("git_commit")


def fixed_before_data(folder: Path, repository: Path | None = None) -> list[dict[str, Any]]:
    """For the result ``folder``: each pre-registration its provenance records, with
    ``fixed_before_data`` (True / False / None when git cannot tell) and ``status`` (one line).

    Fixed before the data means: its commit is an ancestor of the commit its work tree was at when
    the folder's first run started, and the file does not declare ``registered_after_data``. A
    folder whose provenance records none gets one row saying so. ``repository`` overrides the
    recorded work tree (e.g. a fresh clone of it)."""
    record = json.loads((Path(folder) / "provenance.json").read_text())
    entries = record.get("preregistration")
    if not entries:
        reason = (
            "smoke design, none needed"
            if record.get("kind") == "smoke"
            else "none recorded (run before pre-registration)"
        )
        return [{"path": None, "fixed_before_data": False, "status": reason}]
    rows = []
    for prereg in entries if isinstance(entries, list) else [entries]:
        root = repository or Path(prereg.get("repository") or folder)
        ancestor = vcs.is_ancestor(prereg["commit"], _first_run_commit(record, prereg) or "HEAD", root)
        fixed = None if ancestor is None else ancestor and not prereg["registered_after_data"]
        if prereg["registered_after_data"]:
            status = f"registered after the data ({prereg['registered_on']})"
        elif ancestor is None:
            status = f"cannot tell: commit {prereg['commit'][:12]} is not in the history git can see"
        else:
            status = (
                f"fixed before the data (commit {prereg['commit'][:12]})"
                if fixed
                else (f"not fixed before the data: commit {prereg['commit'][:12]} is not an ancestor of the run's")
            )
        rows.append({**prereg, "fixed_before_data": fixed, "status": status})
    return rows
