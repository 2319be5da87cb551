"""Sparse x sparse products in one pass over the work (the item-kNN blocks, the ranking's sums).

scipy's `a @ b` walks the product twice: once to count the result's nonzeros exactly
(csr_matmat_maxnnz), once to compute it (csr_matmat). The count costs half as much again as the
product itself (25M ratings: ~8 s of the co-like blocks, ~6 s of the stored rankings). Here the
result is allocated for a bound known without the walk -- the multiply-adds, sum over a's
nonzeros of the length of b's row they select, at most rows x columns -- and csr_matmat fills it
directly: the same routine as `@`, so the same entries in the same order, bit for bit.
Memory: the bound is only reserved (np.empty); the pages past the result's nonzeros are never
written, so never resident: the same peak as `@`.
"""

import numpy as np
import scipy.sparse as sp

try:  # scipy's own kernel behind `@` (private module, stable since scipy 0.x)
    from scipy.sparse._sparsetools import csr_matmat
except ImportError:  # pragma: no cover - a future scipy without it: the two-pass product
    csr_matmat = None


def multiply_adds(a: sp.csr_matrix, b: sp.csr_matrix) -> int:
    """Sum over a's nonzeros of the length of b's row they select: the product's work."""
    return int(np.diff(b.indptr)[a.indices].sum())


def product(a: sp.csr_matrix, b: sp.csr_matrix, bound: int | None = None) -> sp.csr_matrix:
    """a @ b (both CSR, same dtype) as scipy computes it, without the counting pass; `bound`: an
    upper bound on the result's nonzeros if the caller knows one (else multiply_adds)."""
    rows, columns = a.shape[0], b.shape[1]
    if csr_matmat is None or a.dtype != b.dtype:
        return sp.csr_matrix(a @ b)
    size = min(multiply_adds(a, b) if bound is None else bound, rows * columns)
    index = np.int32 if max(size, rows, columns, a.shape[1]) < np.iinfo(np.int32).max else np.int64
    indptr = np.empty(rows + 1, dtype=index)
    indices = np.empty(max(size, 1), dtype=index)
    data = np.empty(max(size, 1), dtype=a.dtype)
    csr_matmat(
        rows,
        columns,
        np.asarray(a.indptr, dtype=index),
        np.asarray(a.indices, dtype=index),
        a.data,
        np.asarray(b.indptr, dtype=index),
        np.asarray(b.indices, dtype=index),
        b.data,
        indptr,
        indices,
        data,
    )
    nnz = int(indptr[-1])
    return sp.csr_matrix((data[:nnz], indices[:nnz], indptr), shape=(rows, columns))
