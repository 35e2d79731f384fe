"""`phantom run` prints a chapter's key results, writes them as JSON, and fills its "What we found"."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
from _notebooks import FRONT_MATTER

PHANTOM = Path(sys.executable).parent / "phantom"

CHAPTER = FRONT_MATTER + """
# T

```{code-cell} ipython3
:tags: [parameters]

profile = None
seed = 0
```

```{code-cell} ipython3
from myst_nb import glue
glue("share", (seed + 1) / 3, display=False)
glue("label", "stand-in", display=False)
glue("unused", 99, display=False)
```

The method quotes {glue:text}`share:.3f` before the findings.

## What we found

The share is {glue:text}`share:.2f` on the {glue:text}`label` data.

## Next

Still a placeholder: {glue:text}`share`.
"""


def test_phantom_run_prints_fills_and_writes_the_key_results(tmp_path: Path):
    source = tmp_path / "01_t.md"
    source.write_text(CHAPTER)
    out, results = tmp_path / "out.ipynb", tmp_path / "res" / "key.json"
    run = subprocess.run([str(PHANTOM), "run", str(source), "-p", "seed", "1", "-o", str(out),
                          "--results-json", str(results)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "[phantom] key results (What we found):\n  share:.2f = 0.67\n  label = stand-in\n" in run.stdout
    assert json.loads(results.read_text()) == {"share:.2f": "0.67", "label": "stand-in"}  # (1 + 1) / 3
    text = "\n".join(c.source for c in nbformat.read(out, as_version=4).cells if c.cell_type == "markdown")
    assert "The share is 0.67 on the stand-in data." in text
    assert "{glue:text}`share:.3f`" in text and "{glue:text}`share`." in text  # other sections as written


def test_fill_renders_the_roles_it_knows_and_leaves_the_rest(tmp_path):
    from test_glued import glued_notebook

    from phantom_lib.book import glued, key_results

    values = glued.read(glued_notebook(tmp_path / "x.ipynb", {"share": 0.137, "name": "surge"}))
    text = "{glue:text}`share:.1%` of the {glue:text}`name` rule; {glue:text}`other:.2f` stays"
    assert key_results.fill(text, values) == "13.7% of the surge rule; {glue:text}`other:.2f` stays"
