"""The process tag of app/unfinished.py: which luna processes are gone."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from app.unfinished import TAG_PREFIX, is_gone, process_tag

pytestmark = pytest.mark.unit


def test_this_process_is_not_gone() -> None:
    assert not is_gone(process_tag())


def test_an_ended_process_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    tag = process_tag(child.pid)
    assert not is_gone(tag)
    child.kill()
    child.wait(timeout=30)
    assert is_gone(tag)


def test_a_reused_pid_is_gone() -> None:
    host, pid, created = process_tag().removeprefix(TAG_PREFIX).rsplit(":", 2)
    assert is_gone(f"{TAG_PREFIX}{host}:{pid}:{int(created) - 100}")  # same pid, another start time


def test_a_process_of_another_host_is_never_judged() -> None:
    assert socket.gethostname() != "elsewhere"
    assert not is_gone(f"{TAG_PREFIX}elsewhere:1:1")
    assert not is_gone(f"{TAG_PREFIX}garbled")
