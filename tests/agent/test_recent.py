"""Bounded memory for long-running loops: :mod:`aios.agent.recent`."""

from __future__ import annotations

import pytest

from aios.agent.recent import RecentMap, RecentSet


@pytest.mark.parametrize(
    ("maxlen", "keys", "kept"),
    [
        (3, ["a", "b", "c"], ["a", "b", "c"]),
        (3, ["a", "b", "c", "d"], ["b", "c", "d"]),  # the oldest goes first
        (2, ["a", "b", "a", "c"], ["a", "c"]),  # set again: the newest
        (1, ["a", "b", "c"], ["c"]),
    ],
)
def test_recent_map_keeps_the_newest(maxlen: int, keys: list[str], kept: list[str]) -> None:
    recent: RecentMap[str, int] = RecentMap(maxlen)
    for i, key in enumerate(keys):
        recent[key] = i
    assert list(recent) == kept
    assert len(recent) == len(kept)
    assert all(key in recent for key in kept)
    assert recent.get(kept[-1]) == max(i for i, k in enumerate(keys) if k == kept[-1])


def test_recent_map_pop_and_get_of_a_missing_key() -> None:
    recent: RecentMap[str, str] = RecentMap(4)
    recent["ev1"] = "k1"
    assert recent.pop("ev1") == "k1"
    assert recent.pop("ev1") is None
    assert recent.get("ev2") is None
    assert len(recent) == 0


def test_recent_set_forgets_the_oldest() -> None:
    seen: RecentSet[tuple[str, int]] = RecentSet(2)
    for version in (1, 2, 3):
        seen.add(("pl", version))
    assert ("pl", 1) not in seen
    assert list(seen) == [("pl", 2), ("pl", 3)]


def test_recent_needs_room_for_one() -> None:
    with pytest.raises(ValueError, match="maxlen"):
        RecentMap[str, str](0)
