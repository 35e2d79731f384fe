"""Open every page of the built HTML book in headless Chromium and report what a reader would hit.

Serves the HTML folder on localhost, visits each page with Playwright driving Debian's
``chromium``, and records, per page: console errors and uncaught exceptions, requests that
failed, requests to any host other than localhost (blocked: the book must work offline),
images that did not load (``naturalWidth == 0``), formulas MathJax did not typeset,
internal links whose file or ``#anchor`` does not exist, links to "hosts" that are file names
(``http://MODEL.md``: a document cited as if it were a web site), figures rendered narrower than
:data:`MIN_FIGURE_WIDTH` CSS px on the 1280 px page, and captions whose text colour falls below
the WCAG AA contrast ratio :data:`MIN_CAPTION_CONTRAST` against their background. Saves a full-page screenshot of each page. Every page is then opened again
from the file system (``file://``, the same checks but links) to show the book works without
a server.

Run it on a build: ``python -m phantom_lib.book.browser _build/html`` (exit 1 on any problem).
"""

from __future__ import annotations

import argparse
import functools
import html
import re
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's ``chromium`` package (``apt-get install chromium``); Playwright's own browser
downloads cannot reach their host from this project's machines."""

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
VIEWPORT = {"width": 1280, "height": 900}
"""The page size every check runs at (CSS px)."""

MIN_FIGURE_WIDTH = 600
"""A figure (an image in a notebook output or a ``<figure>``) must render at least this wide (CSS px)."""

MIN_CAPTION_CONTRAST = 4.5
"""WCAG AA: the contrast ratio of normal text against its background must reach 4.5:1."""

FILE_SUFFIXES = {"md", "py", "ipynb", "csv", "txt", "json", "yml", "yaml", "toml", "gz", "parquet", "png", "rst", "bib"}
"""A link whose host ends in one of these is a file name mistaken for a web address."""
SKIPPED_DIRS = {"_static", "_sources", "_images", "reports", "_downloads"}

_LOAD_ALL_IMAGES = """async () => {
  const images = [...document.images];
  for (const img of images) { img.loading = "eager"; }
  await Promise.all(images.map(img => img.decode().catch(() => null)));
  return images.map(img => [img.getAttribute("src") || "", img.naturalWidth]);
}"""
_MATH = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  return [document.querySelectorAll(".math").length, document.querySelectorAll("mjx-container").length];
}"""
_LINKS = "() => [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))"
_FIGURES = """() => [...document.querySelectorAll('.cell_output img, figure img')]
  .filter(img => img.naturalWidth > 0)
  .map(img => [img.getAttribute('src') || '', img.getBoundingClientRect().width])"""
_CAPTIONS = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const lin = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  return [...document.querySelectorAll('figcaption, .caption, .caption-text')]
    .filter(el => el.textContent.trim())
    .map(el => {
      const fg = luminance(rgb(getComputedStyle(el).color).slice(0, 3)), bg = luminance(background(el));
      return [el.textContent.trim().slice(0, 60), (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05)];
    });
}"""


@dataclass
class PageReport:
    """What went wrong on one page (empty lists: nothing)."""

    page: str
    screenshot: Path | None = None
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    remote_requests: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    broken_links: list[str] = field(default_factory=list)
    file_links: list[str] = field(default_factory=list)
    narrow_figures: list[str] = field(default_factory=list)
    faint_captions: list[str] = field(default_factory=list)
    unrendered_math: list[str] = field(default_factory=list)
    n_images: int = 0
    n_links: int = 0

    def problems(self) -> list[str]:
        """One line per problem found on this page."""
        kinds = {
            "console error": self.console_errors,
            "failed request": self.failed_requests,
            "request to another host (blocked)": self.remote_requests,
            "image not loaded": self.broken_images,
            "broken internal link": self.broken_links,
            "link to a file name as if it were a host": self.file_links,
            f"figure narrower than {MIN_FIGURE_WIDTH} px": self.narrow_figures,
            f"caption contrast below {MIN_CAPTION_CONTRAST}:1": self.faint_captions,
            "math not typeset": self.unrendered_math,
        }
        return [f"{self.page}: {kind}: {item}" for kind, items in kinds.items() for item in items]


def html_pages(html_dir: Path) -> list[str]:
    """Every HTML page of a Sphinx build, as paths relative to ``html_dir`` (assets skipped)."""
    return sorted(
        p.relative_to(html_dir).as_posix()
        for p in html_dir.rglob("*.html")
        if not SKIPPED_DIRS & set(p.relative_to(html_dir).parts[:-1])
    )


@functools.lru_cache(maxsize=None)
def _ids(page: Path) -> frozenset[str]:
    text = page.read_text(encoding="utf-8", errors="replace")
    return frozenset(html.unescape(m) for m in re.findall(r"""\b(?:id|name)\s*=\s*["']([^"']+)["']""", text))


def link_problem(html_dir: Path, page: str, href: str) -> str | None:
    """Why an internal link ``href`` on ``page`` (relative to ``html_dir``) is broken, or ``None``.

    Links with a scheme other than http(s)/file, or to another host, are not internal.
    """
    base = f"http://localhost/{page}"
    target = urlsplit(urljoin(base, href))
    if target.scheme not in {"http", "https"} or target.hostname != "localhost":
        return None
    path = html_dir / unquote(target.path).lstrip("/")
    if path.is_dir():
        path = path / "index.html"
    if not path.is_file():
        return f"{href} -> missing file {path.relative_to(html_dir)}"
    anchor = unquote(target.fragment)
    if anchor and path.suffix == ".html" and anchor not in _ids(path):
        return f"{href} -> no element with id {anchor!r} in {path.relative_to(html_dir)}"
    return None


def file_link(href: str) -> bool:
    """True for an http(s) link whose host is a file name (``http://MODEL.md``, ``https://notes.ipynb``)."""
    parts = urlsplit(href)
    host = (parts.hostname or "").rsplit(".", 1)
    return parts.scheme in {"http", "https"} and len(host) == 2 and host[1].lower() in FILE_SUFFIXES


@contextmanager
def serve(html_dir: Path) -> Iterator[str]:
    """Serve ``html_dir`` on 127.0.0.1 (a free port) in a thread; yields the base URL."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(html_dir))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _visit(context, url: str, report: PageReport, html_dir: Path, screenshot: Path | None) -> None:
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and report.console_errors.append(
        f"{m.text} ({m.location.get('url', '')})"))
    page.on("pageerror", lambda e: report.console_errors.append(f"uncaught: {e}"))
    page.on("requestfailed", lambda r: r.url not in report.remote_requests and report.failed_requests.append(
        f"{r.url} ({r.failure})"))
    response = page.goto(url, wait_until="networkidle")
    if response is not None and not response.ok:
        report.failed_requests.append(f"{url} (HTTP {response.status})")
    n_math, n_typeset = page.evaluate(_MATH)
    if n_math and n_typeset < n_math:
        report.unrendered_math.append(f"{n_math - n_typeset} of {n_math} formulas (is MathJax loaded?)")
    images = page.evaluate(_LOAD_ALL_IMAGES)
    report.n_images = len(images)
    report.broken_images += [src for src, width in images if width == 0]
    report.narrow_figures += [f"{src} ({width:.0f} px)" for src, width in page.evaluate(_FIGURES) if width < MIN_FIGURE_WIDTH]
    report.faint_captions += [f"{text!r} ({ratio:.2f}:1)" for text, ratio in page.evaluate(_CAPTIONS)
                              if ratio < MIN_CAPTION_CONTRAST]
    if url.startswith("http"):
        landed = urlsplit(page.url).path.lstrip("/")  # after redirects (the root index.html is one)
        hrefs = page.evaluate(_LINKS)
        report.n_links = len(hrefs)
        report.broken_links += [p for p in (link_problem(html_dir, landed, h) for h in hrefs) if p]
        report.file_links += [h for h in hrefs if file_link(h)]
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
        report.screenshot = screenshot
    page.close()


def check_site(html_dir: Path, screenshots: Path | None = None, chromium: Path = CHROMIUM) -> list[PageReport]:
    """Visit every page of ``html_dir`` over localhost, then again over ``file://``.

    ``screenshots``: folder for one PNG per page (emptied first), or ``None`` for none.
    Raises ``FileNotFoundError`` when ``chromium`` or ``index.html`` is missing and
    ``ModuleNotFoundError`` when Playwright is not installed.
    """
    from playwright.sync_api import sync_playwright

    html_dir = Path(html_dir).resolve()
    if not (html_dir / "index.html").is_file():
        raise FileNotFoundError(f"no book at {html_dir}: build it first (`phantom book`)")
    if not Path(chromium).exists():
        raise FileNotFoundError(f"no Chromium at {chromium}: install Debian's package (`make browser`, "
                                "or `apt-get install chromium` as root)")
    if screenshots is not None:
        shutil.rmtree(screenshots, ignore_errors=True)
    with serve(html_dir) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport=VIEWPORT)
        current: list[PageReport] = []

        def route(route) -> None:
            parts = urlsplit(route.request.url)
            if parts.scheme in {"http", "https", "ws", "wss"} and parts.hostname not in LOCAL_HOSTS:
                current[-1].remote_requests.append(route.request.url)
                route.abort("blockedbyclient")
            else:
                route.continue_()

        context.route("**/*", route)
        for name in html_pages(html_dir):
            current.append(PageReport(name))
            shot = screenshots / (name.removesuffix(".html").replace("/", "__") + ".png") if screenshots else None
            _visit(context, base + name, current[-1], html_dir, shot)
        for name in html_pages(html_dir):
            current.append(PageReport(f"{name} (file://)"))
            _visit(context, (html_dir / name).as_uri(), current[-1], html_dir, None)
        browser.close()
    return current


def main(argv: list[str] | None = None) -> int:
    """Command line: check a built book, print one line per problem, exit 1 if any."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", nargs="?", default="_build/html")
    parser.add_argument("--screenshots", default="_build/screenshots", help="folder for page screenshots")
    args = parser.parse_args(argv)
    reports = check_site(Path(args.html_dir), Path(args.screenshots))
    problems = [p for r in reports for p in r.problems()]
    for line in problems:
        print(line)
    print(f"{len(reports)} pages checked, {sum(r.n_images for r in reports)} images, "
          f"{sum(r.n_links for r in reports)} links; {len(problems)} problems; screenshots in {args.screenshots}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
