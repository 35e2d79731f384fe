"""Open every page of the built HTML book in headless Chromium and report what a reader would hit.

Serves the HTML folder on localhost, visits each page with Playwright driving Debian's
``chromium``, and records, per page: console errors and uncaught exceptions, requests that
failed, requests to any host other than localhost (blocked: the book must work offline),
images that did not load (``naturalWidth == 0``), formulas MathJax did not typeset,
internal links whose file or ``#anchor`` does not exist, links to "hosts" that are file names
(``http://MODEL.md``: a document cited as if it were a web site), figures rendered narrower than
:data:`MIN_FIGURE_WIDTH` CSS px on the 1280 px page, and captions whose text colour falls below
the WCAG AA contrast ratio :data:`MIN_CAPTION_CONTRAST` against their background. It also fails
what renders wrong: Markdown table syntax (``|---|``, ``| a | b |`` rows) or TeX (``$x$``,
``\\frac``, ``coi\\_penalty``) left as text a reader sees, including TeX escapes MathJax printed
literally inside ``\\text{...}`` and formulas it could not parse; a typeset formula wider than the
box that holds it (clipped or scrolled); an image whose alt text is a file path, or a figure with
none; figure type smaller than :data:`MIN_TEXT_PT` points at the size the page shows the image
(from the smallest type each chapter figure records in its PNG, :func:`phantom_lib.plots.legible_png`);
and an element marked to open the page (class :data:`FIRST_SCREEN_CLASS`: the introduction's table of the
thesis's claims) whose first rows are not in the first screen, 1280 x 800 unscrolled.
Saves a full-page screenshot of each page. Every page is then opened again
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

from phantom_lib.plots import CSS_PX_PER_INCH, MIN_TEXT_PT, TEXT_PT_KEY

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

FIRST_SCREEN = {"width": 1280, "height": 800}
"""The first screen a reader sees (CSS px): an element of class :data:`FIRST_SCREEN_CLASS` must show its
first :data:`FIRST_SCREEN_ROWS` rows inside it, unscrolled."""
FIRST_SCREEN_CLASS = "first-screen"
FIRST_SCREEN_ROWS = 2
"""How many body rows of a first-screen table (the thesis's two headline claims) must be in the first screen."""
FIRST_SCREEN_REQUIRED = {"book/chapters/intro.html": "thesis-claims"}
"""Pages that must hold a first-screen element with this id (a page whose table failed to render fails)."""

MIN_FIGURE_WIDTH = 600
"""A figure (an image in a notebook output or a ``<figure>``) must render at least this wide (CSS px)."""

MIN_CAPTION_CONTRAST = 4.5
"""WCAG AA: the contrast ratio of normal text against its background must reach 4.5:1."""

FILE_SUFFIXES = {"md", "py", "ipynb", "csv", "txt", "json", "yml", "yaml", "toml", "gz", "parquet", "png", "rst", "bib"}
"""A link whose host ends in one of these is a file name mistaken for a web address."""
RAW_MARKDOWN_TABLE = re.compile(r"\|\s*:?-{3,}:?\s*\||(?:^|\n)[ \t]*\|[^|\n]+\|[^|\n]+\|")
"""A Markdown table's separator row, or a row of two cells or more, in a page's visible text."""
RAW_TEX = re.compile(r"\$[^$\s][^$\n]*\$|\\[A-Za-z]{2,}|\\[_{}$%&#]")
"""TeX in a page's visible text: ``$...$``, a control word (``\\frac``), an escape (``\\_``)."""
PATH_ALT = re.compile(r"^\S*(?:/|\.(?:png|jpe?g|svg|gif|webp))\S*$", re.I)
"""Alt text that is a file name or path, not a description."""

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
_VISIBLE_TEXT = """() => {
  const skip = 'pre, code, script, style, textarea, mjx-container, .math, .highlight, .MathJax, nav, .bd-sidebar-primary';
  const blocks = new Map();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip) || !node.textContent.trim()) continue;
    const style = getComputedStyle(parent);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    const block = parent.closest('p, li, td, th, dt, dd, h1, h2, h3, h4, h5, h6, figcaption, caption, blockquote, div, section') || document.body;
    blocks.set(block, (blocks.get(block) || '') + node.textContent);
  }
  return [...blocks.values()];
}"""
_TEX_INSIDE_MATH = r"""() => {
  if (!(window.MathJax && MathJax.startup && MathJax.startup.document)) return [];
  const found = [];
  for (const item of MathJax.startup.document.math) {
    const mml = MathJax.startup.toMML(item.root);
    const literal = [...mml.matchAll(/<mtext[^>]*>([^<]*\\[^<]*)<\/mtext>/g)].map(m => m[1]);
    const errors = [...mml.matchAll(/<merror[^>]*>[\s\S]*?<\/merror>/g)].map(m => m[0].replace(/<[^>]+>/g, ' ').trim());
    for (const text of [...literal, ...errors]) found.push([String(item.math).slice(0, 60), text.slice(0, 60)]);
  }
  return found;
}"""
_WIDE_MATH = """() => [...document.querySelectorAll('mjx-container')].flatMap(c => {
  const inner = c.querySelector('mjx-math');
  if (!inner) return [];
  let box = c.parentElement;
  while (box && getComputedStyle(box).display.startsWith('inline')) box = box.parentElement;
  const width = inner.getBoundingClientRect().width, room = box ? box.clientWidth : width;
  return width > room + 1 ? [[(c.querySelector('mjx-assistive-mml') || c).textContent.trim().slice(0, 60), width, room]] : [];
})"""
_IMAGES = """() => [...document.querySelectorAll('img')].map(img => [
  img.getAttribute('src') || '', img.getAttribute('alt'), img.naturalWidth, img.getBoundingClientRect().width,
  !!img.closest('.cell_output, figure')])"""
_FIRST_SCREEN = """([cls, rows]) => [...document.querySelectorAll('.' + cls)].map(el => {
  const body = [...el.querySelectorAll('tbody tr')].slice(0, rows);
  const last = (body.length ? body[body.length - 1] : el).getBoundingClientRect();
  return [el.id || el.tagName.toLowerCase(), last.bottom + window.scrollY, body.length];
})"""
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
    raw_markdown: list[str] = field(default_factory=list)
    raw_tex: list[str] = field(default_factory=list)
    wide_math: list[str] = field(default_factory=list)
    path_alt_text: list[str] = field(default_factory=list)
    small_figure_text: list[str] = field(default_factory=list)
    below_first_screen: list[str] = field(default_factory=list)
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
            "Markdown table syntax shown as text": self.raw_markdown,
            "TeX shown as text": self.raw_tex,
            "formula wider than its box": self.wide_math,
            "image without a description (alt text missing or a file path)": self.path_alt_text,
            f"figure text below {MIN_TEXT_PT:g} pt as displayed": self.small_figure_text,
            f"first rows not in the first screen ({FIRST_SCREEN['width']} x {FIRST_SCREEN['height']})":
                self.below_first_screen,
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


def raw_source(blocks: list[str]) -> tuple[list[str], list[str]]:
    """The visible text blocks that show Markdown table syntax, and those that show TeX (each
    shortened to the match and its surroundings)."""

    def around(text: str, match: re.Match) -> str:
        return " ".join(text[max(match.start() - 20, 0):match.end() + 20].split())

    tables = [around(b, m) for b in blocks if (m := RAW_MARKDOWN_TABLE.search(b))]
    tex = [around(b, m) for b in blocks if (m := RAW_TEX.search(b))]
    return tables, tex


def alt_problem(src: str, alt: str | None, content: bool) -> str | None:
    """Why an image's alt text describes nothing: a path-like alt for any image, a missing or
    empty one for a figure (``content``: inside a cell output or ``<figure>``); else ``None``."""
    if alt and PATH_ALT.match(alt.strip()):
        return f"{src} (alt {alt!r})"
    if content and not (alt or "").strip():
        return f"{src} (no alt text)"
    return None


def figure_text_pt(image: Path, displayed_px: float) -> float | None:
    """Smallest type of a PNG written by :func:`phantom_lib.plots.legible_png`, in points at
    ``displayed_px`` CSS px wide; ``None`` when the PNG records no type size."""
    from PIL import Image

    with Image.open(image) as png:
        info, width_px = getattr(png, "text", {}), png.width
    if TEXT_PT_KEY not in info:
        return None
    dpi = float(info.get("phantom:dpi", 72))
    return float(info[TEXT_PT_KEY]) * displayed_px / (width_px / dpi * CSS_PX_PER_INCH)


def _local_file(html_dir: Path, page_url: str, src: str) -> Path | None:
    target = urlsplit(urljoin(page_url, src))
    if target.scheme == "file":
        path = Path(unquote(target.path))
    elif target.hostname in LOCAL_HOSTS:
        path = html_dir / unquote(target.path).lstrip("/")
    else:
        return None
    return path if path.is_file() else None


def _check_rendering(page, report: PageReport, html_dir: Path) -> None:
    tables, tex = raw_source(page.evaluate(_VISIBLE_TEXT))
    report.raw_markdown += tables
    report.raw_tex += tex + [f"in {formula.strip()}: {text}" for formula, text in page.evaluate(_TEX_INSIDE_MATH)]
    report.wide_math += [f"{text} ({width:.0f} px in {room:.0f} px)" for text, width, room in page.evaluate(_WIDE_MATH)]
    for src, alt, natural, shown, content in page.evaluate(_IMAGES):
        if (problem := alt_problem(src, alt, content)) is not None:
            report.path_alt_text.append(problem)
        path = _local_file(html_dir, page.url, src) if natural and content and src.lower().endswith(".png") else None
        if path is None:
            continue
        pt = figure_text_pt(path, shown)
        if pt is None:
            report.small_figure_text.append(f"{src} (records no type size: not drawn through plots.legible_png)")
        elif pt < MIN_TEXT_PT:
            report.small_figure_text.append(f"{src} ({pt:.1f} pt at {shown:.0f} px)")


def first_screen(page, required: str | None = None) -> list[str]:
    """Each element of class :data:`FIRST_SCREEN_CLASS` whose first :data:`FIRST_SCREEN_ROWS` rows end below
    the first screen, measured unscrolled at :data:`FIRST_SCREEN` (the page's viewport is restored); and the
    ``required`` id when no such element carries it."""
    before = page.viewport_size
    page.set_viewport_size(FIRST_SCREEN)
    try:
        page.evaluate("() => window.scrollTo(0, 0)")
        found = page.evaluate(_FIRST_SCREEN, [FIRST_SCREEN_CLASS, FIRST_SCREEN_ROWS])
    finally:
        page.set_viewport_size(before)
    missing = [f"no element #{required} of class {FIRST_SCREEN_CLASS}"] if required and required not in {
        name for name, _, _ in found} else []
    return missing + [f"#{name}: its first {n or 'box'} row(s) end at {bottom:.0f} px, below {FIRST_SCREEN['height']} px"
                      for name, bottom, n in found if bottom > FIRST_SCREEN["height"]]


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
    _check_rendering(page, report, html_dir)
    report.below_first_screen += first_screen(page, FIRST_SCREEN_REQUIRED.get(report.page.split(" (")[0]))
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
