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
