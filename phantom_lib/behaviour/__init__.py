"""phantom_lib.behaviour."""
