"""Fixtures shared by the test folders: the real PostgreSQL of the platform-records tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.postgres import Postgres


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    """One server per module; each test takes its own database (``records_url``)."""
    server = Postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def records_url(postgres: Postgres) -> str:
    return postgres.new_database()
