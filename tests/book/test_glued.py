"""Reading glued values back from executed notebooks, and pages executed after the chapters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _notebooks import FRONT_MATTER

from phantom_lib.book import build as book
from phantom_lib.book import glued

FRONT = FRONT_MATTER

CHAPTER = FRONT + """
# A chapter that glues

```{code-cell} ipython3
:tags: [parameters]

profile = None
seed = 3
```

```{code-cell} ipython3
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from myst_nb import glue

glue("seed_used", seed, display=False)
glue("mean", np.float64(0.125), display=False)
glue("count", np.int64(29))
glue("label", "stand-in", display=False)
glue("flags", [True, False], display=False)
glue("table", pd.DataFrame({"a": [1, 2]}), display=False)
fig, ax = plt.subplots()
glue("fig_line", fig, display=False)
```
"""

PAGE = FRONT + """
# A page that reads the chapter

```{code-cell} ipython3
:tags: [parameters]

profile = None
```

```{code-cell} ipython3
from phantom_lib.book import glued

read_back = glued.values("chapters/01_glues.ipynb", ["seed_used", "mean"])
print(read_back)
```
"""


def glued_notebook(path: Path, values: dict[str, object]) -> Path:
    """Write an executed notebook whose outputs glue ``values`` the way ``myst_nb.glue`` does
    (checked against a real execution in ``test_values_read_back_from_a_real_execution``)."""
    outputs = [
        {"output_type": "display_data", "metadata": {"scrapbook": {"name": k, "mime_prefix": glued_prefix()}},
         "data": {glued_prefix() + "text/plain": repr(v)}}
        for k, v in values.items()
    ]
    cell = {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "", "outputs": outputs}
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def glued_prefix() -> str:
    from myst_nb.ext.glue import GLUE_PREFIX

    return GLUE_PREFIX


@pytest.fixture(scope="module")
def executed_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny book: one chapter that glues, one page that reads it; executed by ``phantom book``'s
    executor (papermill), in its order, with ``MPLBACKEND=Agg`` as under ``make test``."""
    root = tmp_path_factory.mktemp("glue-book")
    (root / "notebooks").mkdir()
    (root / "book").mkdir()
    (root / "notebooks" / "01_glues.md").write_text(CHAPTER)
    (root / "book" / "reader.md").write_text(PAGE)
    (root / "book" / "prose.md").write_text("# Not a notebook\n")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MPLBACKEND", "Agg")
        executed = book.execute_notebooks("smoke", root=root)
    assert [p.name for p in executed] == ["01_glues.ipynb", "reader.ipynb"]
    return root


def test_values_read_back_from_a_real_execution(executed_book: Path):
    chapter = executed_book / "book" / "chapters" / "01_glues.ipynb"
    found = glued.read(chapter)
    assert list(found) == ["seed_used", "mean", "count", "label", "flags", "table", "fig_line"]
    assert glued.values(chapter, ["seed_used", "mean", "count", "label", "flags"]) == {
        "seed_used": 3, "mean": 0.125, "count": 29, "label": "stand-in", "flags": [True, False]}
    assert "image/png" in found["fig_line"].data  # figures are images even when the caller uses Agg
    assert "text/html" in found["table"].data
    with pytest.raises(ValueError, match="glue 'table' is not a plain value"):
        found["table"].value


def test_hand_written_glue_matches_the_real_format(executed_book: Path, tmp_path: Path):
    fake = glued_notebook(tmp_path / "fake.ipynb", {"seed_used": 3, "mean": 0.125})
    real = executed_book / "book" / "chapters" / "01_glues.ipynb"
    assert glued.values(fake, ["seed_used", "mean"]) == glued.values(real, ["seed_used", "mean"])


def test_a_page_executes_after_the_chapters_and_reads_their_glue(executed_book: Path):
    page = json.loads((executed_book / "book" / "chapters" / "reader.ipynb").read_text())
    printed = "".join("".join(o.get("text", "")) for c in page["cells"] for o in c.get("outputs", []))
    assert "{'seed_used': 3, 'mean': 0.125}" in printed


def test_missing_names_fail_loudly(tmp_path: Path):
    nb = glued_notebook(tmp_path / "04_x.ipynb", {"gap_mean": -1.0})
    with pytest.raises(glued.MissingGlue, match=r"04_x.ipynb does not glue \['mw_p'\]; it glues \['gap_mean'\]"):
        glued.values(nb, ["gap_mean", "mw_p"])
    with pytest.raises(FileNotFoundError, match="run `phantom book`"):
        glued.read(tmp_path / "absent.ipynb")


def test_a_name_glued_twice_is_an_error(tmp_path: Path):
    nb = glued_notebook(tmp_path / "x.ipynb", {"a": 1})
    data = json.loads(nb.read_text())
    data["cells"].append(data["cells"][0])
    nb.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="glues 'a' more than once"):
        glued.read(nb)


def _notebook(path: Path, cells: list[dict]) -> Path:
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def _glue_cell(name: str, text: str, tags: tuple[str, ...] = ()) -> dict:
    return {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": "", "outputs": [
        {"output_type": "display_data", "metadata": {"scrapbook": {"name": name, "mime_prefix": ""}},
         "data": {"text/plain": text}}]}


def test_snapshot_and_differences_leave_timings_out(tmp_path):
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir(), after.mkdir()
    _notebook(before / "01_a.ipynb", [_glue_cell("n", "29"), _glue_cell("secs", "1.5", ("nbval-ignore-output",)),
                                      _glue_cell("gone", "1")])
    _notebook(after / "01_a.ipynb", [_glue_cell("n", "30"), _glue_cell("secs", "2.5", ("nbval-ignore-output",)),
                                     _glue_cell("new", "2")])
    a, b = glued.snapshot(before), glued.snapshot(after)
    assert a["01_a:secs"] == {"text": "1.5", "kind": "text", "timing": True}
    assert glued.differences(a, b) == ["only before: 01_a:gone", "only after: 01_a:new", "changed: 01_a:n: '29' -> '30'"]
    assert glued.differences(a, a) == []
