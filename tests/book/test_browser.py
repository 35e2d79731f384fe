"""Every page of the smoke-built book in headless Chromium, offline; and the checker itself."""

from __future__ import annotations

import base64
import importlib.util
import os
from pathlib import Path

import pytest
from test_book import toc_files

from phantom_lib.book import browser
from phantom_lib.book import build as book

ROOT = book.repo_root()
SCREENSHOTS = ROOT / "_build" / "screenshots"

REQUIRE = "PHANTOM_REQUIRE_BROWSER"


@pytest.fixture(autouse=True)
def chromium_and_playwright() -> None:
    """Skip when the browser cannot run here, with the reason and the fix; fail instead when
    ``PHANTOM_REQUIRE_BROWSER=1`` (CI sets it, so a missing install step cannot pass as green)."""
    missing = []
    if importlib.util.find_spec("playwright") is None:
        missing.append("playwright (python) is not installed: pip install -e '.[test]'")
    if not browser.CHROMIUM.exists():
        missing.append(f"no Chromium at {browser.CHROMIUM}: `make browser` installs Debian's chromium "
                       "(apt-get, as root); Playwright's own browser download cannot work here")
    if missing:
        (pytest.fail if os.environ.get(REQUIRE) == "1" else pytest.skip)("; ".join(missing))

# a 1x1 PNG
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")


@pytest.mark.slow
def test_every_page_loads_offline_with_images_links_and_math(smoke_book: Path):
    html_dir = smoke_book / "_build" / "html"
    reports = browser.check_site(html_dir, SCREENSHOTS)
    problems = [p for r in reports for p in r.problems()]
    assert not problems, "\n".join(problems)
    visited = {r.page for r in reports}
    pages = browser.html_pages(html_dir)
    assert set(pages) | {f"{p} (file://)" for p in pages} == visited
    for entry in toc_files(smoke_book):
        shot = SCREENSHOTS / (entry.replace("/", "__") + ".png")
        assert shot.stat().st_size > 10_000, f"no screenshot of {entry}"
    assert sum(r.n_images for r in reports) > 0
    assert sum(r.n_links for r in reports) > len(reports)
    assert 'class="math' in (html_dir / "book" / "intro.html").read_text()  # so MathJax was exercised


def test_the_checker_reports_what_a_reader_would_hit(tmp_path: Path):
    (tmp_path / "pixel.png").write_bytes(PIXEL)
    (tmp_path / "index.html").write_text("""<!DOCTYPE html><html><head>
<script src="https://cdn.example.org/lib.js"></script>
</head><body>
<img src="pixel.png"><img src="missing.png">
<a href="ok.html#top">fine</a><a href="ok.html#nowhere">bad anchor</a><a href="gone.html">gone</a>
<a href="https://example.org/">external link, not followed</a><a href="mailto:x@example.org">mail</a>
<a href="http://MODEL.md">a document cited as a host</a>
<figure><img src="pixel.png" style="width: 300px"><figcaption style="color: #ccc">A pale caption</figcaption></figure>
<figure><img src="pixel.png" style="width: 700px"><figcaption style="color: #222">A readable caption</figcaption></figure>
<span class="math">\\(x^2\\)</span>
<script>console.error("boom")</script>
</body></html>""")
    (tmp_path / "ok.html").write_text('<!DOCTYPE html><html><body><h1 id="top">ok</h1></body></html>')
    reports = {r.page: r for r in browser.check_site(tmp_path, tmp_path / "shots")}
    bad, ok = reports["index.html"], reports["ok.html"]
    assert ok.problems() == []
    assert bad.remote_requests == ["https://cdn.example.org/lib.js"]
    assert bad.broken_images == ["missing.png"] and bad.n_images == 4
    assert bad.file_links == ["http://MODEL.md"]
    assert bad.narrow_figures == ["pixel.png (300 px)"]
    assert len(bad.faint_captions) == 1 and bad.faint_captions[0].startswith("'A pale caption' (1.6")
    assert [p.split(" ->")[0] for p in bad.broken_links] == ["ok.html#nowhere", "gone.html"]
    assert any("boom" in e for e in bad.console_errors)
    assert bad.unrendered_math == ["1 of 1 formulas (is MathJax loaded?)"]
    assert (tmp_path / "shots" / "index.png").exists()
    assert reports["index.html (file://)"].broken_images == ["missing.png"]


def test_file_names_are_not_hosts():
    assert browser.file_link("http://MODEL.md") and browser.file_link("https://data/README.md") is False
    assert browser.file_link("https://notes.ipynb") and not browser.file_link("https://example.org/MODEL.md")
    assert not browser.file_link("mailto:x@example.md") and not browser.file_link("../model.html")
