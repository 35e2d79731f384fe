"""`make lab` starts a real JupyterLab server in which a chapter's .md source is a notebook.

The server is started by the Makefile's own ``lab`` target (its ``install`` prerequisite taken as
done: the test runs inside the installed environment) on a free port of 127.0.0.1 with a random
token, and asked through Jupyter's REST API: the contents API must serve ``notebooks/03_coi.md``
as a notebook with its ``parameters`` cell (jupytext's contents manager), and the settings API
must make jupytext's notebook view the default viewer of Markdown files.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from _services import BIN, REQUIRE, free_port, program, stop, wait_for_port

from phantom_lib.book import build as book

ROOT = book.repo_root()


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[int, str]]:
    program("jupyter")
    make = shutil.which("make")
    if make is None:
        (pytest.fail if os.environ.get(REQUIRE) == "1" else pytest.skip)("GNU make is not installed")
    port, token = free_port(), secrets.token_hex(16)
    args = f"--port={port} --ip=127.0.0.1 --no-browser --IdentityProvider.token={token}"
    server = subprocess.Popen([make, "--no-print-directory", "-o", "install", "lab", f"BIN={BIN}", f"LAB_ARGS={args}"],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_port(port, server, seconds=120)
        yield port, token
    finally:
        stop(server)


def api(lab: tuple[int, str], path: str) -> Any:
    port, token = lab
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"token {token}"})
    for _ in range(60):  # the port opens a moment before the extensions have loaded
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as err:
            if err.code != 404:
                raise
        time.sleep(0.5)
    raise AssertionError(f"{path} stayed 404")


def test_a_chapter_source_opens_as_a_notebook_with_its_parameters_cell(lab):
    model = api(lab, "/api/contents/notebooks/03_coi.md?type=notebook&content=1")
    assert model["type"] == "notebook" and model["format"] == "json"
    cells = model["content"]["cells"]
    tagged = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1 and tagged[0]["cell_type"] == "code"
    source = "".join(tagged[0]["source"])
    assert [p.name for p in book.notebook_parameters(ROOT / "notebooks" / "03_coi.md")] == [
        line.split("=")[0].strip() for line in source.splitlines() if "=" in line and not line.startswith("#")]
    assert model["content"]["metadata"]["phantom"] == {"chapter": "03_coi"}


def test_markdown_files_open_in_jupytexts_notebook_view_by_default(lab):
    plugin = api(lab, "/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
    assert plugin["schema"]["properties"]["defaultViewers"]["default"]["markdown"] == "Jupytext Notebook"
