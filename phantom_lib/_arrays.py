"""Named numpy array types, defined once: what an annotation says about an array's dtype.

Shapes are stated in docstrings (``shape (K, N)``); these aliases fix the dtype so that a float
array, an index array and a float32 observation are told apart by the type checker.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
"""float64 arrays: prices, demand, probabilities, rewards."""

Float32Array = npt.NDArray[np.float32]
"""float32 arrays: observations (what the learners see)."""

IntArray = npt.NDArray[np.int64]
"""int64 arrays: indices, counts, paths of states."""

BoolArray = npt.NDArray[np.bool_]
"""Boolean masks."""
