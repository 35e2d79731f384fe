"""Building blocks for tests that write their own small jupytext notebooks."""

FRONT_MATTER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""
"""The front matter every notebook of the book carries (jupytext MyST block and kernelspec)."""
