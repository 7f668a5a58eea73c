"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_gating import Site
from tests.fakekoji import FakeKojiHub


@pytest.fixture
def site(tmp_path: Path, fake_koji: FakeKojiHub, capsys: Any) -> Site:
    """A store, a settings file and the fake koji hub, driven through the real CLI."""
    return Site(tmp_path, fake_koji, capsys)
