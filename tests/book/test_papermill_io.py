"""The plain ``papermill`` command runs the jupytext sources (the package's ``papermill.io`` handler)."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
from pathlib import Path

import jupytext
import nbformat
import pytest
from _notebooks import FRONT_MATTER
from _services import program

ROOT = Path(__file__).resolve().parents[2]

TINY = FRONT_MATTER + """
# Tiny

```{code-cell} ipython3
:tags: [parameters]

seed = 0
```

```{code-cell} ipython3
print("doubled", seed * 2)
```
"""


def papermill(source: Path, output: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(program("papermill")), str(source), str(output), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600, env=dict(os.environ, PHANTOM_PROFILE="smoke"))


def printed(notebook: Path) -> str:
    cells = nbformat.read(notebook, as_version=4).cells
    return "".join(o.get("text", "") for c in cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_the_package_declares_its_handler_to_papermill():
    names = [e.name for e in importlib.metadata.entry_points(group="papermill.io")]
    assert "jupytext" in names, "the papermill.io entry point is not installed: run `make install` (pip install -e .)"


def test_papermill_runs_a_jupytext_source_with_a_parameter_and_still_reads_ipynb(tmp_path: Path):
    source = tmp_path / "tiny.md"
    source.write_text(TINY)
    result = papermill(source, tmp_path / "out.ipynb", "-p", "seed", "7", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "doubled 14\n" in printed(tmp_path / "out.ipynb")  # 7 injected, not the default 0

    as_ipynb = tmp_path / "tiny.ipynb"  # any other notebook goes to papermill's own handler, as before
    jupytext.write(jupytext.read(source), as_ipynb)
    again = papermill(as_ipynb, tmp_path / "again.ipynb", "-p", "seed", "3", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "doubled 6\n" in printed(tmp_path / "again.ipynb")


def test_a_markdown_file_that_is_not_a_notebook_still_fails_as_before(tmp_path: Path):
    (tmp_path / "notes.md").write_text("# just prose\n")
    result = papermill(tmp_path / "notes.md", tmp_path / "out.ipynb", cwd=tmp_path)
    assert result.returncode != 0 and "NotJSONError" in result.stderr


@pytest.mark.slow
def test_papermill_runs_a_chapter_source_as_the_issue_wrote_it(tmp_path: Path):
    result = papermill(Path("notebooks/03_coi.md"), tmp_path / "out.ipynb", "-p", "seed", "7", cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "seed = 7" in injected[0].source
