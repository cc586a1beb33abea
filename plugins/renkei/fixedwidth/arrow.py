"""Arrow string arrays straight from fixed-width byte matrices.

Why: turning millions of codes and tokens into Python ``str`` objects only to hand them to
Arrow cost more than the rest of reading them. An (n, width) byte matrix already is the
data buffer of a string array whose offsets step by ``width``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def strings_from_matrix(mat: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """An (n, width) uint8 matrix of ASCII as an Arrow string array, null where ``null``.

    Values keep their full width (codes are fixed width by definition). The matrix is
    shared, not copied: it must not be changed afterwards.
    """
    mat = np.ascontiguousarray(mat, dtype=np.uint8)
    n, width = mat.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    validity, nulls = None, 0
    if null is not None and null.any():
        validity, nulls = pa.py_buffer(np.packbits(~null, bitorder="little")), int(null.sum())
    return pa.Array.from_buffers(pa.string(), n, [validity, pa.py_buffer(offsets), pa.py_buffer(mat)],
                                 null_count=nulls)
