"""Assignment and overlap used by the tracker: checked against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest

from aios.agent.analytics.matching import hungarian, iou_matrix, linear_assignment


def _brute_force_min(cost: npt.NDArray[np.float64]) -> float:
    n, m = cost.shape
    return min(
        float(sum(cost[i, cols[i]] for i in range(n)))
        for cols in itertools.permutations(range(m), n)
    )


def _brute_force_limited(cost: npt.NDArray[np.float64], limit: float) -> float:
    """Best total where each row is matched (cost < limit) or left unmatched (costs limit)."""
    n, m = cost.shape
    best = float(n) * limit
    for cols in itertools.product([-1, *range(m)], repeat=n):
        used = [c for c in cols if c >= 0]
        if len(used) != len(set(used)):
            continue
        if any(c >= 0 and cost[i, c] >= limit for i, c in enumerate(cols)):
            continue
        best = min(best, sum(cost[i, c] if c >= 0 else limit for i, c in enumerate(cols)))
    return best


@pytest.mark.parametrize(
    ("seed", "shape"),
    [(s, sh) for s in range(6) for sh in [(1, 1), (3, 3), (3, 5), (4, 6), (5, 5)]],
)
def test_hungarian_matches_brute_force(seed: int, shape: tuple[int, int]) -> None:
    cost = np.random.default_rng(seed).uniform(0, 10, shape)
    cols = hungarian(cost)
    assert len(set(cols.tolist())) == shape[0]
    assert cost[np.arange(shape[0]), cols].sum() == pytest.approx(_brute_force_min(cost))


def _assert_optimal(cost: npt.NDArray[np.float64], limit: float) -> None:
    """Every row and column is matched (under ``limit``) or left alone, at the optimal total."""
    matches, rows, cols = linear_assignment(cost, limit)
    assert all(cost[r, c] < limit for r, c in matches)
    assert sorted([*matches[:, 0].tolist(), *rows.tolist()]) == list(range(cost.shape[0]))
    assert sorted([*matches[:, 1].tolist(), *cols.tolist()]) == list(range(cost.shape[1]))
    total = float(sum(cost[r, c] for r, c in matches)) + limit * len(rows)
    assert total == pytest.approx(_brute_force_limited(cost, limit))


@pytest.mark.parametrize(
    ("seed", "shape"), [(s, sh) for s in range(6) for sh in [(2, 3), (4, 2), (4, 4)]]
)
def test_linear_assignment_with_cost_limit_is_optimal(seed: int, shape: tuple[int, int]) -> None:
    cost = np.random.default_rng(100 + seed).uniform(0, 1, shape)
    limit = 0.5
    _assert_optimal(cost, limit)


@pytest.mark.parametrize(
    ("seed", "shape", "feasible"),
    [(s, sh, f) for s in range(8) for sh in [(5, 6), (6, 4)] for f in (0.15, 0.3, 0.5)],
)
def test_linear_assignment_on_sparse_costs_is_optimal(
    seed: int, shape: tuple[int, int], feasible: float
) -> None:
    """Few pairs under the limit, as in a tracker's frame: some rows and columns pair off
    alone (matched without the solver), others compete; the total is still the optimum."""
    rng = np.random.default_rng(200 + seed)
    limit = 0.8
    cost = np.where(rng.random(shape) < feasible, rng.uniform(0, limit, shape), 1.0)
    _assert_optimal(cost, limit)


@pytest.mark.parametrize(
    ("cost", "limit", "expected"),
    [
        # Greedy would take (0, 0) = 0.1 and leave row 1 unmatched; optimal matches both.
        ([[0.1, 0.2], [0.3, 0.9]], 0.8, [[0, 1], [1, 0]]),
        ([[0.9, 0.95]], 0.8, []),
        (np.zeros((0, 3)), 0.8, []),
        ([[0.5], [0.1], [0.7]], 0.8, [[1, 0]]),
    ],
)
def test_linear_assignment_cases(
    cost: list[list[float]], limit: float, expected: list[list[int]]
) -> None:
    matches, _, _ = linear_assignment(np.asarray(cost, dtype=np.float64), limit)
    assert matches.tolist() == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
        ([0, 0, 10, 10], [10, 10, 20, 20], 0.0),
        ([0, 0, 10, 10], [2, 2, 4, 4], 4 / 100),
        ([0, 0, 0, 0], [0, 0, 0, 0], 0.0),
    ],
)
def test_iou(a: list[float], b: list[float], expected: float) -> None:
    assert iou_matrix(np.array([a]), np.array([b]))[0, 0] == pytest.approx(expected)
