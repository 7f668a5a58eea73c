"""Shared fixtures: where the corpus and seeds are, and the stores to test against."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared() -> Path:
    env = os.environ.get("RELENGOTRON_SHARED")
    if env:
        return Path(env)
    return REPO.parent / "shared"


SHARED = _shared()
CORPUS = SHARED / "corpus"
SEEDS = SHARED / "seeds"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the shared corpus is missing at {CORPUS}")
        pytest.skip(f"the shared corpus is not at {CORPUS} (set RELENGOTRON_SHARED)")
    return CORPUS


# ------------------------------------------------------------------ stores

PG_URL = os.environ.get("RELENGOTRON_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _service_missing(what: str, why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required under CI=true but unavailable: {why}")
    pytest.skip(f"{what} unavailable: {why}")


def _pg_schema() -> str:
    """A fresh PostgreSQL schema for one test (dropped afterwards)."""
    import uuid

    return "t_" + uuid.uuid4().hex[:12]


@pytest.fixture
def pg_store():
    """(url, schema) of a fresh schema on the local PostgreSQL."""
    try:
        import psycopg

        conninfo = PG_URL.replace("postgresql+psycopg://", "postgresql://")
        conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=3)
    except Exception as exc:
        _service_missing("PostgreSQL at 127.0.0.1:5432", str(exc).strip().splitlines()[0])
    schema = _pg_schema()
    conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield PG_URL, schema
    finally:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    """An application on a fresh store: each test runs on SQLite and PostgreSQL."""
    from relengotron.adapters.store.store import open_app

    if request.param == "sqlite":
        yield open_app(f"sqlite:///{tmp_path / 'store.db'}")
    else:
        url, schema = request.getfixturevalue("pg_store")
        app = open_app(url, schema=schema)
        yield app
        app.close()


@pytest.fixture
def store_url(request, tmp_path):
    """A store URL for CLI tests (SQLite file)."""
    return f"sqlite:///{tmp_path / 'cli.db'}"


from tests.fakekoji import fake_koji  # noqa: E402,F401  (fixture)
from tests.rabbit import listener, prefix  # noqa: E402,F401  (fixtures)
