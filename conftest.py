"""Repository-wide pytest configuration: collect the jupytext notebooks with nbval."""

pytest_plugins = ["phantom_lib.book.nbmd"]
