"""The lease's turns (pure logic): sections with different keys run side by side under one
acquisition, sections with the same key or none run alone, and none is overtaken."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from provider.photon.records.lease import Lease

WAIT = 5.0  # seconds: generous, the events fire at once when the lease is right


class Store:
    """Counts acquisitions; the sections say what ran at once."""

    def __init__(self) -> None:
        self.takes = 0
        self.lease = Lease(self._take, lambda: None, lambda: None)
        self.running: set[str] = set()
        self.together: list[set[str]] = []  # who was running when each section started
        self.order: list[str] = []
        self._lock = threading.Lock()

    def _take(self, purpose: str) -> None:
        self.takes += 1

    def section(self, name: str, key: str | None, go: threading.Event) -> None:
        with self.lease.section(name, key):
            with self._lock:
                self.order.append(name)
                self.running.add(name)
                self.together.append(set(self.running))
            go.wait(WAIT)
            with self._lock:
                self.running.discard(name)


@pytest.fixture
def store() -> Iterator[Store]:
    store = Store()
    yield store
    store.lease.close()


def start(store: Store, name: str, key: str | None, go: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=store.section, args=(name, key, go))
    thread.start()
    return thread


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "the lease never let the section start"
        time.sleep(0.01)


def test_sections_of_different_keys_run_side_by_side_on_one_acquisition(store: Store) -> None:
    go = threading.Event()
    threads = [start(store, f"tenant {n}", f"tenant {n}", go) for n in range(5)]
    wait_until(lambda: len(store.running) == 5)
    go.set()
    for thread in threads:
        thread.join(WAIT)
    assert store.takes == 1


def test_sections_of_one_key_run_one_at_a_time(store: Store) -> None:
    first, second = threading.Event(), threading.Event()
    threads = [start(store, "a1", "a", first)]
    wait_until(lambda: store.running == {"a1"})
    threads.append(start(store, "a2", "a", second))
    threads.append(start(store, "b", "b", second))  # behind a2 in line, so it waits too
    time.sleep(0.3)  # long enough for a wrong start to show
    assert store.running == {"a1"}
    first.set()
    second.set()
    for thread in threads:
        thread.join(WAIT)
    assert store.order == ["a1", "a2", "b"]
    assert {"a1", "a2"} not in store.together


def test_a_keyless_section_runs_alone_and_is_not_overtaken(store: Store) -> None:
    keyed, alone, later = threading.Event(), threading.Event(), threading.Event()
    threads = [start(store, "t1", "t1", keyed)]
    wait_until(lambda: store.running == {"t1"})
    threads.append(start(store, "quota", None, alone))
    wait_until(lambda: len(store.lease._waiting) == 1)
    threads.append(start(store, "t2", "t2", later))  # came after the keyless one
    time.sleep(0.3)  # long enough for a wrong start to show
    assert store.running == {"t1"}
    keyed.set()
    wait_until(lambda: store.running == {"quota"})
    alone.set()
    later.set()
    for thread in threads:
        thread.join(WAIT)
    assert store.order == ["t1", "quota", "t2"]
    assert {"quota"} in store.together
