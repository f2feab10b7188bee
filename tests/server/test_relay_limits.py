"""The relay's token buckets on a clock the test moves: a key holds its rate's worth of tokens, gets
one back every 60/rate seconds and says how long to wait when empty; keys are apart; the buckets kept
stay bounded under a flood of addresses."""

from __future__ import annotations

import pytest

from p2pescrow.server import relay
from p2pescrow.server.relay import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_gives_its_rate_then_says_when_the_next_token_comes():
    clock = Clock()
    bucket = TokenBucket(3, clock=clock)
    assert [bucket.take("client:a") for _ in range(3)] == [None, None, None]
    assert bucket.take("client:a") == pytest.approx(20.0)  # 3 a minute: one every 20 s
    clock.now += 5
    assert bucket.take("client:a") == pytest.approx(15.0)
    clock.now += 15
    assert bucket.take("client:a") is None
    assert bucket.take("client:a") == pytest.approx(20.0)
    assert bucket.take("client:b") is None  # another key has its own bucket


def test_an_idle_bucket_refills_to_its_rate_and_no_further():
    clock = Clock()
    bucket = TokenBucket(2, clock=clock)
    bucket.take("k"), bucket.take("k")
    clock.now += 3600
    assert [bucket.take("k") for _ in range(3)] == [None, None, pytest.approx(30.0)]


def test_a_flood_of_addresses_keeps_the_buckets_bounded(monkeypatch):
    monkeypatch.setattr(relay, "MAX_BUCKETS", 100)
    clock = Clock()
    bucket = TokenBucket(10, clock=clock)
    for n in range(1000):
        bucket.take(f"client:{n}")
        clock.now += 7  # each earlier address' bucket is full again by the time it is dropped
    assert len(bucket._buckets) <= 101
    assert bucket.take("client:999") is None  # the recent ones are kept


def test_a_fast_flood_of_new_addresses_cannot_grow_the_buckets_without_bound(monkeypatch):
    monkeypatch.setattr(relay, "MAX_BUCKETS", 100)
    clock = Clock()
    bucket = TokenBucket(10, clock=clock)
    for n in range(1000):  # all within a second: no bucket refills
        bucket.take(f"client:{n}")
        clock.now += 0.001
    assert len(bucket._buckets) <= 101
    for _ in range(9):
        bucket.take("client:999")
    assert bucket.take("client:999") is not None  # the most recent addresses keep their count
