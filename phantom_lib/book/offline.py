"""Sphinx extension: the HTML book works from the local file system, offline.

Loaded through ``_config.yml`` (``sphinx: extra_extensions: [phantom_lib.book.offline]``). It

* copies MathJax 3 from the installed Python package ``django-static-mathjax`` (a verbatim
  MathJax 3.2.2 distribution; installed with the project's ``book`` extra) into the HTML
  output at ``_static/<mathjax_path>``, so pages with math never ask a CDN for it;
* after the build, scans every HTML page and stylesheet of the output for assets loaded from
  another host (scripts, stylesheets, images, frames, fonts) and reports each one as a Sphinx
  warning, which the strict build (``-W``) turns into a failure.

Links to other sites (``<a href="https://...">``) are not loads and are allowed.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

MATHJAX_PACKAGE = "mathjax"
"""Import name of the PyPI package ``django-static-mathjax`` that ships MathJax 3."""

REMOTE = r"(?:https?:)?//"
_TAG_ATTRS = {
    "script": "src",
    "img": "src",
    "iframe": "src",
    "source": "src",
    "video": "src",
    "audio": "src",
    "embed": "src",
    "object": "data",
    "link": "href",
}
_NOT_LOADS = {"canonical", "alternate", "author", "license", "me", "next", "prev"}
_TAG = re.compile(r"<(?P<tag>script|img|iframe|source|video|audio|embed|object|link)\b(?P<attrs>[^>]*)>", re.I)
_CSS_URL = re.compile(r"(?:@import\s+|url\()\s*[\"']?(?P<url>" + REMOTE + r"[^\"')\s]+)", re.I)


def _attribute(attrs: str, name: str) -> str | None:
    match = re.search(rf"\b{name}\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))", attrs, re.I)
    if not match:
        return None
    return next(group for group in match.groups() if group is not None)


def remote_loads(html: str) -> list[str]:
    """Addresses on other hosts that an HTML page would load (not plain links), in order.

    >>> remote_loads('<script src="https://cdn.example/x.js"></script><a href="https://a.b">a</a>')
    ['https://cdn.example/x.js']
    """
    found = []
    for match in _TAG.finditer(html):
        tag, attrs = match["tag"].lower(), match["attrs"]
        url = _attribute(attrs, _TAG_ATTRS[tag])
        if not url or not re.match(REMOTE, url):
            continue
        if tag == "link" and set((_attribute(attrs, "rel") or "").lower().split()) & _NOT_LOADS:
            continue
        found.append(url)
    found += [m["url"] for m in _CSS_URL.finditer(html)]
    return found


def mathjax_source() -> Path:
    """The ``es5`` folder of the installed MathJax 3 distribution.

    Raises ``RuntimeError`` with the install command when the package is missing.
    """
    import importlib.util

    spec = importlib.util.find_spec(MATHJAX_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "MathJax is not installed: the offline book vendors it from the PyPI package "
            "django-static-mathjax (run `make install`, or `pip install -e '.[book]'`)"
        )
    es5 = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"
    if not es5.is_dir():
        raise RuntimeError(f"the installed MathJax package has no {es5}; reinstall django-static-mathjax")
    return es5


def vendor_mathjax(static_dir: Path, mathjax_path: str) -> Path:
    """Copy MathJax into ``static_dir`` so that ``static_dir / mathjax_path`` is its entry script.

    ``mathjax_path`` is relative, e.g. ``"mathjax/tex-chtml.js"``: the folder part is where the
    distribution goes, the file part names the combined component to load. Only that component
    is copied among the top-level bundles; every sub-folder (fonts, TeX extensions, menus) is
    copied because MathJax loads from them on demand. Returns the entry script's path.
    """
    entry = Path(mathjax_path)
    if entry.is_absolute() or re.match(REMOTE, mathjax_path) or entry.suffix != ".js":
        raise ValueError(
            f"mathjax_path must be a relative path to a .js file under _static, got {mathjax_path!r}"
        )
    source = mathjax_source()
    if not (source / entry.name).is_file():
        bundles = sorted(p.name for p in source.glob("*.js"))
        raise ValueError(f"mathjax_path names {entry.name!r}, not a MathJax component; choose one of {bundles}")
    target = static_dir / entry.parent

    def skip_other_bundles(folder: str, names: list[str]) -> list[str]:
        if Path(folder) != source:
            return []
        return [n for n in names if n.endswith(".js") and n != entry.name]

    shutil.copytree(source, target, ignore=skip_other_bundles, dirs_exist_ok=True)
    shutil.copy2(source.parent / "LICENSE", target / "LICENSE")
    return target / entry.name


def _copy_mathjax(app: Any, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    vendor_mathjax(Path(app.outdir) / "_static", app.config.mathjax_path)


def _report_remote_loads(app: Any, exception: Exception | None) -> None:
    from sphinx.util import logging

    if exception is not None or app.builder.format != "html":
        return
    logger = logging.getLogger(__name__)
    outdir = Path(app.outdir)
    pages = sorted(outdir.rglob("*.html")) + sorted(outdir.rglob("*.css"))
    for page in pages:
        for url in remote_loads(page.read_text(encoding="utf-8", errors="replace")):
            logger.warning(
                "%s loads %s from another host: the book must work offline (vendor the asset "
                "or switch the feature off in _config.yml)",
                page.relative_to(outdir),
                url,
                type="phantom",
                subtype="offline",
            )


def _check_config(app: Any, config: Any) -> None:
    path = config.mathjax_path
    if re.match(REMOTE, path) or Path(path).is_absolute():
        from sphinx.errors import ConfigError

        raise ConfigError(
            f"mathjax_path is {path!r}: set it to a relative path such as 'mathjax/tex-chtml.js' "
            "(phantom_lib.book.offline copies MathJax there) so the book needs no network"
        )
    mathjax_source()


def setup(app: Any) -> dict[str, Any]:
    """Register the MathJax copy and the remote-asset check with Sphinx."""
    app.connect("config-inited", _check_config)
    app.connect("build-finished", _copy_mathjax)
    app.connect("build-finished", _report_remote_loads)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
