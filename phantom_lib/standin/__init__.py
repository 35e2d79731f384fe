"""The synthetic stand-in for WhoClickedIt: a seeded generator of rows with the published schema and counts.

The real data cannot be downloaded where this book is built, so the project ships rows generated
here, byte-for-byte reproducible from a seed (``phantom data standin``).
:mod:`~phantom_lib.standin.model` holds the generative model (two behaviour kernels, the card's
targets, :class:`StandinConfig`); :mod:`~phantom_lib.standin.rows` writes the rows. The
generator walks Markov chains with :mod:`phantom_lib.behaviour`, so it sits after that stage in
the data flow; :mod:`phantom_lib.data` only knows where the shipped file lies.
"""

from phantom_lib.standin.rows import generate, write

__all__ = [
    "generate", "write",
]
