"""Graced: the stop a run's VM creations wait under, so that a VM begun before Ctrl-C is
finished and known. (The simulator finishes a task inside the call that starts it, so only
this logic is tested here; a real host's CreateVM_Task runs for seconds after the call.)"""

from __future__ import annotations

import threading

from provider.esxi.tasks import Graced
from tests.support.clock import FakeClock


def test_a_graced_stop_takes_effect_only_after_its_grace() -> None:
    stop, clock = threading.Event(), FakeClock()
    graced = Graced(stop, 120.0, clock.monotonic, clock.sleep)
    assert not graced.is_set() and graced.wait(0.0) is False  # no stop: nothing to do
    stop.set()
    assert graced.wait(0.5) is False  # stopped: the tasks begun are still waited for
    clock.now += 119.0
    assert graced.wait(0.5) is True and graced.is_set()  # but not for ever
    assert clock.now == 100.0 + 0.5 + 119.0 + 0.5


def test_without_a_grace_it_is_the_stop_itself() -> None:
    stop, clock = threading.Event(), FakeClock()
    graced = Graced(stop, 0.0, clock.monotonic, clock.sleep)
    stop.set()
    assert graced.wait(0.5) is True and clock.now == 100.0  # no sleep once it holds
