"""Fixtures shared by the test folders: the real PostgreSQL of the platform-records tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.postgres import Postgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One server per test process (starting one costs seconds); each test takes its own
    database (``records_url``). A test that kills it starts it again."""
    server = Postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def records_url(postgres: Postgres) -> str:
    return postgres.new_database()
