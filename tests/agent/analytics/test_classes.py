"""Class labels from a pipeline resolved to detector ids, unknown labels named."""

from __future__ import annotations

import numpy as np
import pytest

from aios.agent.analytics.classes import class_mask, resolve_class_ids
from aios.agent.errors import ConfigError

NAMES = {"person": 0, "car": 2, "truck": 7}


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (None, None),
        (["person"], frozenset({0})),
        (["car", "truck", "car"], frozenset({2, 7})),
        ([], frozenset()),
    ],
)
def test_resolve(labels: list[str] | None, expected: frozenset[int] | None) -> None:
    assert resolve_class_ids(labels, NAMES, where="zone 'a': classes") == expected


def test_unknown_label_names_the_node_and_label() -> None:
    with pytest.raises(ConfigError, match=r"zone 'a': classes.*'bus'"):
        resolve_class_ids(["person", "bus"], NAMES, where="zone 'a': classes")


@pytest.mark.parametrize(
    ("class_ids", "expected"),
    [
        (None, [True, True, True]),
        (frozenset({2}), [False, True, False]),
        (frozenset(), [False, False, False]),
    ],
)
def test_class_mask(class_ids: frozenset[int] | None, expected: list[bool]) -> None:
    assert class_mask(np.array([0, 2, 7], np.int32), class_ids).tolist() == expected
