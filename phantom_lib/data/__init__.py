"""phantom_lib.data."""
