"""The presence state machine, driven by a fake clock (no I/O)."""

from __future__ import annotations

import pytest

from aios.controlplane.presence.tracker import OFFLINE, ONLINE, UNKNOWN, PresenceTracker

TIMEOUT = 30.0
DEBOUNCE = 5.0


def tracker() -> PresenceTracker:
    return PresenceTracker(timeout_s=TIMEOUT, debounce_s=DEBOUNCE)


def known(t: PresenceTracker, *devices: str, at: float = 0.0) -> None:
    for d in devices:
        t.seed("org", d, ONLINE, at)


@pytest.mark.parametrize(
    ("silence_s", "expected"),
    [
        (TIMEOUT - 1, ONLINE),  # one heartbeat short of the timeout: still online
        (TIMEOUT + DEBOUNCE - 0.5, ONLINE),  # timed out, but the change has not held long enough
        (TIMEOUT + DEBOUNCE + 0.5, OFFLINE),
    ],
)
def test_silence_turns_a_device_offline_after_timeout_and_debounce(
    silence_s: float, expected: str
) -> None:
    t = tracker()
    known(t, "d1")
    t.heartbeat("org", "d1", 100.0)
    changes = t.sweep(100.0 + silence_s)
    assert t.state_of("d1") == expected
    assert [c.state for c in changes] == ([OFFLINE] if expected == OFFLINE else [])
    if changes:
        assert changes[0].reason == "heartbeat_timeout"
        assert changes[0].at == pytest.approx(100.0 + TIMEOUT)


def test_regular_heartbeats_keep_a_device_online_for_an_hour() -> None:
    t = tracker()
    known(t, "d1")
    changes = []
    for second in range(0, 3600, 10):
        t.heartbeat("org", "d1", float(second))
        changes += t.sweep(float(second) + 0.5)
    assert changes == []
    assert t.state_of("d1") == ONLINE


def test_last_will_turns_offline_after_the_debounce_only() -> None:
    t = tracker()
    known(t, "d1")
    t.heartbeat("org", "d1", 10.0)
    t.status("org", "d1", OFFLINE, 11.0, "last_will")
    assert t.sweep(11.0 + DEBOUNCE - 1) == []
    [change] = t.sweep(11.0 + DEBOUNCE + 1)
    assert (change.previous, change.state, change.reason) == (ONLINE, OFFLINE, "last_will")


def test_flapping_within_the_debounce_publishes_nothing() -> None:
    t = tracker()
    known(t, "d1")
    for i in range(5):  # offline then back within 2 s, five times
        t.status("org", "d1", OFFLINE, 10.0 + 4 * i, "last_will")
        t.heartbeat("org", "d1", 12.0 + 4 * i)
    assert t.sweep(60.0) == []
    assert t.state_of("d1") == ONLINE


def test_a_new_device_is_published_only_once_the_database_confirms_its_organization() -> None:
    t = tracker()
    t.heartbeat("org", "new", 0.0)
    t.heartbeat("org", "spoof", 0.0)
    assert t.sweep(DEBOUNCE + 1) == []  # unverified: held back
    t.verify({"new": "org", "spoof": "other-org"}, ["new", "spoof"])
    [change] = t.sweep(DEBOUNCE + 2)
    assert (change.device_id, change.previous, change.state) == ("new", UNKNOWN, ONLINE)
    assert t.state_of("spoof") == UNKNOWN


def test_a_heartbeat_under_another_organization_is_ignored() -> None:
    t = tracker()
    known(t, "d1")
    t.heartbeat("org", "d1", 0.0)
    t.heartbeat("intruder", "d1", 25.0)  # must not keep d1 alive
    [change] = t.sweep(TIMEOUT + DEBOUNCE + 1)
    assert change.state == OFFLINE
    assert t.counters.wrong_tenant == 1


def test_revive_undoes_a_timeout_seen_by_another_replica() -> None:
    t = tracker()
    known(t, "d1")
    t.heartbeat("org", "d1", 0.0)
    [change] = t.sweep(TIMEOUT + DEBOUNCE + 1)
    assert change.state == OFFLINE
    t.revive("d1", TIMEOUT + DEBOUNCE)
    assert t.state_of("d1") == ONLINE
    assert t.sweep(TIMEOUT + DEBOUNCE + 2) == []


def test_checks_per_device_stay_constant_with_heartbeats() -> None:
    """Heartbeats do not touch the wheel: 1,000 devices x 10 min of 10 s heartbeats cost
    about one check per device per timeout, not one per heartbeat."""
    t = tracker()
    devices = [f"d{i}" for i in range(1000)]
    known(t, *devices)
    for second in range(0, 600, 10):
        for d in devices:
            t.heartbeat("org", d, float(second))
        t.sweep(float(second) + 1)
    assert t.counters.heartbeats == 60_000
    assert t.counters.checks <= 1000 * (600 / TIMEOUT + 2)
    assert all(t.state_of(d) == ONLINE for d in devices)


@pytest.mark.parametrize(
    ("sighting_at", "expected"),
    [
        (95.0, OFFLINE),  # another replica's heartbeat before the last will heard here: stale
        (105.0, ONLINE),  # after it: the device came back
    ],
)
def test_a_sighting_by_another_replica_never_undoes_a_later_offline(
    sighting_at: float, expected: str
) -> None:
    t = tracker()
    t.seed("org", "d1", UNKNOWN, None)  # enrolled, never heard here
    t.seen("org", "d1", 90.0)  # the sweep read it from the database
    t.sweep(90.0 + DEBOUNCE + 1)
    assert t.state_of("d1") == ONLINE
    t.status("org", "d1", OFFLINE, 100.0, "last_will")
    t.seen("org", "d1", sighting_at)
    t.sweep(110.0 + DEBOUNCE + 1)
    assert t.state_of("d1") == expected


def test_a_sighting_of_a_device_the_tracker_never_knew_is_published_once_debounced() -> None:
    t = tracker()
    t.seen("org", "new", 10.0)
    assert t.sweep(10.0 + DEBOUNCE - 1) == []
    (change,) = t.sweep(10.0 + DEBOUNCE + 1)
    assert (change.device_id, change.previous, change.state) == ("new", UNKNOWN, ONLINE)
    assert change.reason == "heard_by_another_replica"
