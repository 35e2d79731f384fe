"""phantom_lib.book."""
