"""The MQTT thread -> event loop hand-off: bounded, batched wake-ups, backpressure."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from aios.controlplane.mqtt.buffer import InboundBuffer


async def test_a_burst_from_another_thread_arrives_in_order_with_few_wakeups() -> None:
    buf: InboundBuffer[int] = InboundBuffer(10_000)
    buf.bind(asyncio.get_running_loop())
    wakes = 0
    original = buf._wake

    def counting_wake() -> None:
        nonlocal wakes
        wakes += 1
        original()

    buf._wake = counting_wake  # type: ignore[method-assign]
    producer = threading.Thread(
        target=lambda: [buf.put(i, cancelled=lambda: False) for i in range(5000)]
    )
    producer.start()
    got: list[int] = []
    while len(got) < 5000:
        assert await buf.wait(5)
        got.extend(buf.take(1000))
    producer.join()
    assert got == list(range(5000))
    assert wakes < 1000  # one wake-up per burst, not one per message


async def test_put_waits_while_full_and_resumes_when_the_consumer_takes() -> None:
    buf: InboundBuffer[int] = InboundBuffer(2)
    buf.bind(asyncio.get_running_loop())
    assert buf.put(1, cancelled=lambda: False)
    assert buf.put(2, cancelled=lambda: False)
    done = threading.Event()

    def third() -> None:
        buf.put(3, cancelled=lambda: False, poll_s=0.01)
        done.set()

    threading.Thread(target=third).start()
    await asyncio.sleep(0.1)
    assert not done.is_set()  # backpressure: the producer waits
    assert buf.take(10) == [1, 2]
    assert await asyncio.to_thread(done.wait, 2)
    assert buf.take(10) == [3]


def test_offer_drops_when_full_and_a_cancelled_put_gives_up() -> None:
    buf: InboundBuffer[int] = InboundBuffer(1)
    assert buf.offer(1)
    assert not buf.offer(2)
    start = time.monotonic()
    assert not buf.put(3, cancelled=lambda: time.monotonic() - start > 0.05, poll_s=0.01)
    assert buf.qsize() == 1


async def test_wait_times_out_empty() -> None:
    buf: InboundBuffer[int] = InboundBuffer(4)
    buf.bind(asyncio.get_running_loop())
    assert not await buf.wait(0.05)
    with pytest.raises(ValueError, match="maxsize"):
        InboundBuffer[int](0)


async def test_a_consumer_filling_a_batch_is_woken_once_the_batch_is_full() -> None:
    buf: InboundBuffer[int] = InboundBuffer(100)
    buf.bind(asyncio.get_running_loop())

    def produce() -> None:
        for i in range(10):
            buf.put(i, cancelled=lambda: False)
            time.sleep(0.005)

    producer = threading.Thread(target=produce)
    start = time.monotonic()
    producer.start()
    assert await buf.wait(5, items=10)
    assert buf.qsize() == 10  # not woken by the first nine
    assert time.monotonic() - start < 4
    producer.join()
    assert buf.take(100) == list(range(10))
    assert not await buf.wait(0.05, items=5)
