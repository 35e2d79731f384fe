"""phantom_lib.detection."""
