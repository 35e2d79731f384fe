"""phantom_lib.perf."""
