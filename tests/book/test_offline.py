"""The book works offline: vendored MathJax and the remote-asset check of the Sphinx extension."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from phantom_lib.book import build as book
from phantom_lib.book import offline

ROOT = book.repo_root()


def test_remote_loads_finds_assets_from_other_hosts_but_not_links():
    page = """
    <script src="https://cdn.example.org/mathjax.js"></script>
    <script src="_static/local.js"></script>
    <link rel="stylesheet" href="//fonts.example.org/css?family=X">
    <link rel="canonical" href="https://book.example.org/intro.html">
    <img alt="x" src='http://img.example.org/a.png'>
    <iframe src=https://video.example.org/embed></iframe>
    <a href="https://doi.org/10.1214/aoms/1177730491">Mann and Whitney</a>
    <style>@import url("https://fonts.example.org/font.css"); .x { background: url(_static/x.png) }</style>
    """
    assert offline.remote_loads(page) == [
        "https://cdn.example.org/mathjax.js",
        "//fonts.example.org/css?family=X",
        "http://img.example.org/a.png",
        "https://video.example.org/embed",
        "https://fonts.example.org/font.css",
    ]


def test_vendor_mathjax_copies_the_entry_its_dynamic_parts_and_licence_only(tmp_path: Path):
    entry = offline.vendor_mathjax(tmp_path / "_static", "mathjax/tex-chtml.js")
    assert entry == tmp_path / "_static" / "mathjax" / "tex-chtml.js"
    target = entry.parent
    assert sorted(p.name for p in target.glob("*.js")) == ["tex-chtml.js"]
    assert any((target / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert (target / "input" / "tex" / "extensions").is_dir()
    assert "Apache License" in (target / "LICENSE").read_text()


@pytest.mark.parametrize("path, message", [
    ("https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js", "relative path"),
    ("/abs/tex-chtml.js", "relative path"),
    ("mathjax/not-a-bundle.js", "not a MathJax component"),
])
def test_vendor_mathjax_rejects_bad_paths(tmp_path: Path, path: str, message: str):
    with pytest.raises(ValueError, match=message):
        offline.vendor_mathjax(tmp_path, path)


def test_missing_mathjax_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RuntimeError, match="django-static-mathjax"):
        offline.mathjax_source()


def test_config_keeps_the_book_offline():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    sphinx = config["sphinx"]["config"]
    assert "phantom_lib.book.offline" in sphinx["extensions"]
    assert not {"sphinx.ext.intersphinx", "sphinx_thebe"} & set(sphinx["extensions"])
    assert config["launch_buttons"]["thebe"] is False
    assert (Path("mathjax") / "tex-chtml.js") == Path(sphinx["mathjax_path"])
    assert sphinx["nb_ipywidgets_js"] == {}
