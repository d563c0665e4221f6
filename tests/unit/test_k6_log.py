"""RepeatedLines: k6's repeated messages are shown a few times, then counted once a second."""

from __future__ import annotations

import pytest

from tasks.execution.k6_log import FIRST_SHOWN, MAX_MESSAGES, OTHER, RepeatedLines, message_key

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_first_lines_pass_then_one_counted_line_per_second() -> None:
    out: list[tuple[str, str]] = []
    clock = Clock()
    repeats = RepeatedLines(lambda level, text: out.append((level, text)), clock=clock)
    for i in range(1000):  # 1000 failures over 2.5 s
        clock.now = 100.0 + i * 0.0025
        repeats.emit("warning", f'Request Failed: Get "http://127.0.0.1:{40000 + i}/x": EOF')
    repeats.flush()
    assert out[:FIRST_SHOWN] == [
        ("warning", f'k6 warning: Request Failed: Get "http://127.0.0.1:{40000 + i}/x": EOF') for i in range(3)
    ]
    counted = [int(text.split("(x")[1].split(" ")[0]) for _, text in out[FIRST_SHOWN:]]
    assert len(counted) == 3  # at 1 s, at 2 s, and the rest at flush
    assert sum(counted) == 1000 - FIRST_SHOWN
    assert repeats.repeated == 1000 - FIRST_SHOWN
    assert out[-1][1].startswith("k6 warning (x") and out[-1][1].endswith('127.0.0.1:40999/x": EOF')


def test_different_messages_are_counted_apart() -> None:
    out: list[tuple[str, str]] = []
    repeats = RepeatedLines(lambda level, text: out.append((level, text)), clock=Clock())
    for _ in range(10):
        repeats.emit("warning", "Request Failed: EOF")
        repeats.emit("error", "Request Failed: EOF")
        repeats.emit("warning", "Request Failed: connection reset by peer")
    repeats.flush()
    assert len(out) == 3 * (FIRST_SHOWN + 1)
    assert ("error", "k6 error (x7 in the last 0.0 s): Request Failed: EOF") in out


def test_nothing_repeated_nothing_held_back() -> None:
    out: list[tuple[str, str]] = []
    repeats = RepeatedLines(lambda level, text: out.append((level, text)), clock=Clock())
    repeats.emit("info", "a thing")
    repeats.flush()
    assert out == [("info", "k6 info: a thing")]


def test_distinct_messages_are_bounded() -> None:
    out: list[tuple[str, str]] = []
    repeats = RepeatedLines(lambda level, text: out.append((level, text)), clock=Clock())
    for i in range(MAX_MESSAGES + 500):
        repeats.emit("warning", f"message {'ab'[i % 2]}{'x' * (i // 2)}")  # all of a different shape
    repeats.flush()
    assert len(repeats.seen) == MAX_MESSAGES + 1  # the rest under one key
    assert message_key("warning", OTHER) in repeats.seen
    assert len(out) <= MAX_MESSAGES + FIRST_SHOWN + 1


def test_numbers_ports_and_urls_fold_into_one_message() -> None:
    a = message_key("warning", 'Request Failed: Get "http://127.0.0.1:1/a?id=1": read tcp 127.0.0.1:5->127.0.0.1:1')
    b = message_key("warning", 'Request Failed: Get "http://127.0.0.1:2/b?id=9": read tcp 127.0.0.1:7->127.0.0.1:2')
    assert a == b
    assert message_key("error", "x") != message_key("warning", "x")
