"""The notebook runner, failure reporting, and the smoke build of the whole book."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from _notebooks import FRONT_MATTER

from phantom_lib.book import build as book

ROOT = book.repo_root()
PHANTOM = Path(sys.executable).parent / "phantom"

BROKEN = FRONT_MATTER + """
# A broken notebook

```{code-cell} ipython3
:tags: [parameters]

profile = None
```

```{code-cell} ipython3
x = 1
```

```{code-cell} ipython3
raise RuntimeError("deliberately broken cell")
```
"""


@pytest.fixture
def broken_book(tmp_path: Path) -> Path:
    """A minimal book tree whose only notebook raises in its third code cell (index 2)."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_broken.md").write_text(BROKEN)
    return tmp_path


def test_run_injects_parameters(tmp_path: Path):
    out = tmp_path / "coi.ipynb"
    subprocess.run([str(PHANTOM), "run", "notebooks/03_coi.md", "-p", "seed", "7", "--profile", "smoke",
                    "-o", str(out)], cwd=ROOT, check=True)
    nb = nbformat.read(out, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    assert re.search(r"^seed = 7$", injected[0].source, re.M)
    assert re.search(r"^profile = \"smoke\"$", injected[0].source, re.M)
    assert "remove-cell" in injected[0].metadata["tags"]  # the book shows the chapter's own parameters cell only


def test_run_names_notebook_and_cell_of_a_failure(broken_book: Path, tmp_path: Path):
    source = broken_book / "notebooks" / "01_broken.md"
    result = subprocess.run([str(PHANTOM), "run", str(source), "-o", str(tmp_path / "out.ipynb")],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "01_broken.md failed in code cell 3 (line 26" in result.stderr
    assert "deliberately broken cell" in result.stderr


def test_book_execution_stops_at_a_failing_notebook(broken_book: Path):
    with pytest.raises(book.NotebookError, match=r"01_broken\.md failed in code cell 3 \(line 26"):
        book.execute_notebooks("smoke", root=broken_book)


def test_nbval_fails_on_a_failing_cell(broken_book: Path):
    source = broken_book / "notebooks" / "01_broken.md"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "phantom_lib.book.nbmd", "--nbval-lax", "--nbval-current-env",
         "-p", "no:cacheprovider", str(source)],
        capture_output=True, text=True, cwd=broken_book,
    )
    assert result.returncode == 1, result.stdout
    assert "01_broken.md::Cell 2" in result.stdout
    assert "deliberately broken cell" in result.stdout
    assert "2 passed" in result.stdout


def test_find_notebook_rejects_unknown_names():
    assert book.find_notebook("03").stem == "03_coi"
    with pytest.raises(FileNotFoundError, match="known notebooks: 01_dataset"):
        book.find_notebook("99")


def toc_files(root: Path) -> list[str]:
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
        files += [c["file"] for c in part["chapters"]]
    return files


@pytest.mark.slow
def test_smoke_book_builds_every_page_with_its_figures(smoke_book: Path):
    html_dir = smoke_book / "_build" / "html"
    total = 0
    for entry in toc_files(smoke_book):
        page = html_dir / f"{entry}.html"
        assert page.exists(), f"{entry} in _toc.yml produced no HTML"
        executed = smoke_book / f"{entry}.ipynb"
        if not executed.exists():
            continue
        nb = json.loads(executed.read_text())
        n_figures = sum("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))
        total += n_figures
        html = page.read_text()
        images = re.findall(r'<img[^>]+src="([^"]+)"', html)
        local = [src for src in images if not src.startswith(("http:", "https:", "data:"))]
        assert len(local) >= n_figures, f"{entry}: {n_figures} figures in the notebook, {len(local)} images in HTML"
        for src in local:
            assert (page.parent / src).resolve().exists(), f"{entry}: image {src} missing"
    assert total > 0, "no chapter produced a figure: the kernel's matplotlib backend shows nothing"


def test_only_on_a_fresh_clone_executes_every_chapter_and_says_so(tmp_path: Path, capsys):
    (tmp_path / "notebooks").mkdir()
    for name in ("01_a", "02_b"):
        (tmp_path / "notebooks" / f"{name}.md").write_text(
            FRONT_MATTER + "\n```{code-cell} ipython3\n:tags: [parameters]\n\nprofile = None\n```\n")
    book.execute_notebooks("smoke", only=["02"], root=tmp_path)
    first = capsys.readouterr().out
    assert "[phantom] --only: also executing 01_a: they have no executed notebook yet" in first
    assert "executing notebooks/01_a.md" in first and "executing notebooks/02_b.md" in first
    book.execute_notebooks("smoke", only=["02"], root=tmp_path)
    again = capsys.readouterr().out
    assert "also executing" not in again and "01_a.md" not in again and "executing notebooks/02_b.md" in again
