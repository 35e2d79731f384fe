"""phantom_lib.sim."""
