"""Box overlap and optimal assignment for the tracker.

:func:`linear_assignment` solves the rectangular assignment problem exactly with the
Hungarian method (shortest augmenting paths with row/column potentials, the Jonker-Volgenant
formulation), vectorized over columns with numpy; ``O(n^2 m)`` for ``n <= m``, a few
milliseconds for the tens of objects a camera sees. A cost limit is honoured exactly, as
``lap.lapjv(..., cost_limit=...)`` does in ByteTrack: each row may instead take a private
"unmatched" column costing the limit, so a pair is only matched when that lowers the total.
Pairs with no rival under the limit are matched without the solver, which only sees the rows
and columns that compete: most frames cost a few array operations.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


def iou_matrix(a: npt.NDArray[np.floating], b: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """Pairwise intersection over union of ``(N, 4)`` and ``(M, 4)`` xyxy boxes: ``(N, M)``."""
    boxes_a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    boxes_b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    if boxes_a.shape[0] == 0 or boxes_b.shape[0] == 0:
        return np.zeros((boxes_a.shape[0], boxes_b.shape[0]), np.float64)
    lt = np.maximum(boxes_a[:, None, :2], boxes_b[None, :, :2])
    rb = np.minimum(boxes_a[:, None, 2:], boxes_b[None, :, 2:])
    wh = np.maximum(rb - lt, 0.0)
    inter = wh[..., 0] * wh[..., 1]
    size_a = np.maximum(boxes_a[:, 2:] - boxes_a[:, :2], 0.0)
    size_b = np.maximum(boxes_b[:, 2:] - boxes_b[:, :2], 0.0)
    area_a = size_a[:, 0] * size_a[:, 1]
    area_b = size_b[:, 0] * size_b[:, 1]
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0.0, inter / np.maximum(union, 1e-12), 0.0)


def linear_assignment(
    cost: npt.NDArray[np.floating], cost_limit: float
) -> tuple[IntArray, IntArray, IntArray]:
    """Minimum-cost matching of rows to columns where only pairs cheaper than ``cost_limit``
    may be matched.

    Returns ``(matches (K, 2) [row, col], unmatched_rows, unmatched_cols)``; minimizes the sum
    of matched costs plus ``cost_limit`` for every row left unmatched.
    """
    matrix = np.asarray(cost, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"cost must be 2-D, got shape {matrix.shape}")
    n_rows, n_cols = matrix.shape
    if n_rows == 0 or n_cols == 0:
        return (
            np.zeros((0, 2), np.int64),
            np.arange(n_rows, dtype=np.int64),
            np.arange(n_cols, dtype=np.int64),
        )
    feasible = matrix < cost_limit
    # A row and a column that are each other's only feasible pair form a component of their
    # own: matched outright (the usual case, objects apart from each other). Only what is left
    # (rows and columns competing for each other) goes to the Hungarian solver, which is exact
    # since a forbidden pair is never part of an optimal matching.
    row_degree = feasible.sum(axis=1)
    col_degree = feasible.sum(axis=0)
    if row_degree.max() <= 1 and col_degree.max() <= 1:  # no rivals at all
        matches = np.argwhere(feasible).astype(np.int64)
        return (
            matches,
            np.nonzero(row_degree == 0)[0].astype(np.int64),
            np.nonzero(col_degree == 0)[0].astype(np.int64),
        )
    lone = feasible & (row_degree == 1)[:, None] & (col_degree == 1)[None, :]
    lone_rows, lone_cols = np.nonzero(lone)
    rest_rows = np.nonzero((row_degree > 0) & ~lone.any(axis=1))[0]
    rest_cols = np.nonzero((col_degree > 0) & ~lone.any(axis=0))[0]
    solved_rows, solved_cols = _solve(matrix[np.ix_(rest_rows, rest_cols)], cost_limit)
    rows = np.concatenate([lone_rows, rest_rows[solved_rows]]).astype(np.int64)
    cols = np.concatenate([lone_cols, rest_cols[solved_cols]]).astype(np.int64)
    order = np.argsort(rows, kind="stable")
    matches = np.stack([rows[order], cols[order]], axis=1)
    row_free = np.ones(n_rows, np.bool_)
    row_free[rows] = False
    col_free = np.ones(n_cols, np.bool_)
    col_free[cols] = False
    return (
        matches,
        np.nonzero(row_free)[0].astype(np.int64),
        np.nonzero(col_free)[0].astype(np.int64),
    )


def _solve(matrix: npt.NDArray[np.float64], cost_limit: float) -> tuple[IntArray, IntArray]:
    """Rows and columns of the optimal matching of ``matrix`` under ``cost_limit``."""
    if matrix.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    transposed = matrix.shape[0] > matrix.shape[1]
    work = matrix.T if transposed else matrix
    n, m = work.shape
    # Forbidden pairs cost more than staying unmatched, so they are never chosen.
    real = np.where(work < cost_limit, work, cost_limit + 1.0)
    extended = np.full((n, m + n), cost_limit + 1.0, np.float64)
    extended[:, :m] = real
    extended[np.arange(n), m + np.arange(n)] = cost_limit
    row_to_col = hungarian(extended)
    rows = np.nonzero(row_to_col < m)[0]
    cols = row_to_col[rows]
    return (cols, rows) if transposed else (rows, cols)


def hungarian(cost: npt.NDArray[np.float64]) -> IntArray:
    """Optimal assignment of every row of an ``(n, m)`` matrix, ``n <= m``, to a distinct
    column: the column of each row, ``(n,)``. Costs must be finite."""
    n, m = cost.shape
    if n > m:
        raise ValueError(f"hungarian needs rows <= columns, got {cost.shape}")
    if not np.all(np.isfinite(cost)):
        raise ValueError("hungarian needs finite costs")
    # 1-indexed columns; column 0 is the virtual start of each augmenting path.
    u = np.zeros(n + 1, np.float64)
    v = np.zeros(m + 1, np.float64)
    owner = np.zeros(m + 1, np.int64)  # owner[j]: row (1-indexed) holding column j, 0 if free
    way = np.zeros(m + 1, np.int64)
    for i in range(1, n + 1):
        owner[0] = i
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, np.bool_)
        while True:
            used[j0] = True
            i0 = owner[j0]
            reduced = cost[i0 - 1] - u[i0] - v[1:]
            free = ~used[1:]
            better = free & (reduced < minv[1:])
            minv[1:][better] = reduced[better]
            way[1:][better] = j0
            candidates = np.where(free, minv[1:], np.inf)
            j1 = int(np.argmin(candidates)) + 1
            delta = candidates[j1 - 1]
            u[owner[used]] += delta
            v[used] -= delta
            minv[~used] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0 != 0:
            j1 = int(way[j0])
            owner[j0] = owner[j1]
            j0 = j1
    row_to_col = np.zeros(n, np.int64)
    assigned = np.nonzero(owner[1:])[0]
    row_to_col[owner[1:][assigned] - 1] = assigned
    return row_to_col
