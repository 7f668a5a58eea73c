"""Settings: where the store is, and (later) koji, gating and the bus.

Precedence: command-line option, then environment variable, then default.
"""

from __future__ import annotations

import os
from pathlib import Path

from adapters.store import default_url, normalize_url

ENV_DB = "RELENGOTRON_DB"


def database_url(option: str | None, cwd: Path | None = None) -> str:
    """``--db`` wins, then ``RELENGOTRON_DB``, then ``.relengotron/relengotron.db``."""
    return normalize_url(option or os.environ.get(ENV_DB) or default_url(cwd))
