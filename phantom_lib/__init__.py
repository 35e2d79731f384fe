"""PHANTOM analysis book library."""
