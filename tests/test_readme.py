"""The README's Python snippets run as written, and what it says about paths and commands holds."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from phantom_lib import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SNIPPETS = re.findall(r"^```python\n(.*?)^```", README, re.S | re.M)


def test_the_readme_has_python_snippets():
    assert len(SNIPPETS) >= 3


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda s: s.splitlines()[0][:50])
def test_each_python_snippet_runs_as_written(snippet: str, tmp_path: Path):
    """Each snippet alone, in a fresh interpreter, from an empty folder (no help from the repository's cwd)."""
    result = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


def test_the_sweep_folder_the_readme_names_is_the_default():
    args = cli.build_parser().parse_args(["sweep", "--design", "smoke"])
    assert cli._sweep_out(args) == Path("results/sweep-smoke")
    flowing = " ".join(README.split())  # the same words however the paragraph is wrapped
    assert "results go to `results/sweep-NAME`" in flowing and "writes to `results/sweep-NAME`" in flowing
    assert "Results and their provenance go to `data/results/`" not in README  # the old, wrong sentence


def test_the_columns_the_readme_lists_for_results_parquet_are_in_a_sweeps_results():
    import pandas as pd

    row = next(line for line in README.splitlines() if line.startswith("| `results.parquet` |"))
    named = {name for name in re.findall(r"`([a-z_0-9]+)`", row) if name != "results"}
    columns = set(pd.read_parquet(ROOT / "data/results/as-run/results.parquet").columns)
    named -= {"defended", "baseline", "reference", "ok", "error"} - columns  # values of variant and status
    assert named <= columns, named - columns
