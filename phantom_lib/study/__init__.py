"""phantom_lib.study."""
