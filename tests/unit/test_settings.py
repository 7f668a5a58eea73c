"""Settings: the example file is complete and valid; mistakes name the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from relengotron.adapters.settings import DEFAULT_POLICIES, Settings, SettingsError, database_url
from relengotron.adapters.settings_file import load_settings

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "relengotron.example.toml"


def test_no_file_gives_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELENGOTRON_CONFIG", raising=False)
    s = load_settings(None)
    assert s == Settings()
    assert s.policies == DEFAULT_POLICIES
    assert (s.gating.pending_tag, s.gating.promoted_tag, s.gating.quarantine_tag) == (
        "rawhide-pending",
        "rawhide",
        "rawhide-badnewsbears",
    )
    assert s.koji.hub is None and not s.bus.enabled


def test_the_example_file_loads_with_every_table() -> None:
    s = load_settings(str(EXAMPLE))
    # The example moves nothing on a production hub unless told to (issue 16, item 6).
    assert s.koji.hub is None and s.koji.profile is None
    assert s.koji.auth.method == "none"
    assert s.monitored_branches == ("f[0-9]+", "rawhide", "main", "master")
    assert s.gating.decision_context == "rawhide_pending"
    assert s.gating.fallback == "hold" and s.gating.max_rounds == 6
    assert s.bus.topic_prefix == "relengotron"
    assert (s.gating.max_rechecks, s.gating.rerun_timeout_hours) == (3, 6.0)
    assert s.signing.backend is None and s.signing.pending_tag == "rawhide-signing-pending"
    assert s.sync.target is None and s.sync.auto  # no syncs until a mirror is named
    assert s.sync.decision_context == "rawhide_compose_sync_to_mirrors"


def test_env_var_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "s.toml"
    f.write_text('[koji.tags]\npending = "f45-pending"\n[gating]\npolicies = "pol"\n')
    monkeypatch.setenv("RELENGOTRON_CONFIG", str(f))
    s = load_settings(None)
    assert s.gating.pending_tag == "f45-pending"
    assert s.policies == tmp_path / "pol"  # relative to the settings file


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[koji]\nhubb = 'x'\n", "unknown key 'hubb' in [koji]"),
        ("[kojii]\nhub = 'x'\n", "unknown table [kojii]"),
        ("[koji]\ntimeout = 'soon'\n", "[koji] timeout must be a number"),
        ("[bus]\nenabled = 'yes'\n", "[bus] enabled must be true or false"),
        ("[sync]\nrsync = []\n", "[sync] rsync must name the command"),
        ("[sync]\nrsync = 'rsync'\n", "[sync] rsync must be a list of strings"),
        ("[sync]\ntarget = 7\n", "[sync] target must be"),
        ("[koji]\nauth = 'password'\n", "[koji] auth"),
        ("[koji]\nauth = 'ssl'\n", "[koji] auth"),
        ("[gating.bisection]\nfallback = 'promote'\n", "fallback must be one of"),
        ("[gating.bisection]\nmax_rounds = 0\n", "max_rounds must be at least 1"),
        ("[koji.tags]\npromoted = 'rawhide-pending'\n", "tags must differ"),
        ("hub = 'x'\n", "must be inside a [table]"),
        ("[koji\n", "not valid TOML"),
        ("[api]\nport = '8090'\n", "[api] port must be an integer"),
        ("[api]\nport = 0\n", "[api] port must be between 1 and 65535"),
        ("[api]\nworkers = 0\n", "[api] workers must be at least 1"),
        ("[api]\noverdue_hours = -1\n", "[api] overdue_hours must be positive"),
        ("[api]\ntoken = 'x'\n", "unknown key 'token' in [api]"),
    ],
)
def test_mistakes_are_clear(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(SettingsError) as err:
        load_settings(str(f))
    assert message in str(err.value)
    assert str(f) in str(err.value)


def test_missing_file() -> None:
    with pytest.raises(SettingsError, match="settings file not found"):
        load_settings("/nonexistent/relengotron.toml")


def test_store_url_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("RELENGOTRON_DB", raising=False)
    configured = "postgresql://db/x"
    assert database_url(None, tmp_path, configured) == "postgresql+psycopg://db/x"
    monkeypatch.setenv("RELENGOTRON_DB", "postgresql://env/y")
    assert database_url(None, tmp_path, configured) == "postgresql+psycopg://env/y"
    assert database_url("sqlite:///a.db", tmp_path, configured) == "sqlite:///a.db"


def test_api_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELENGOTRON_API_TOKEN", raising=False)
    assert Settings().api.token() is None  # no token: writes are refused
    (tmp_path / "api.token").write_text("s3cret\n")
    f = tmp_path / "s.toml"
    f.write_text(
        '[api]\nhost = "0.0.0.0"\nport = 9000\ntoken_file = "api.token"\n'
        "overdue_hours = 6\nworkers = 4\n"
    )
    api = load_settings(str(f)).api
    assert (api.host, api.port, api.overdue_hours, api.workers) == ("0.0.0.0", 9000, 6.0, 4)
    assert api.token_file == str(tmp_path / "api.token")  # relative to the settings file
    assert api.token() == "s3cret"
    monkeypatch.setenv("RELENGOTRON_API_TOKEN", "from-env")
    assert api.token() == "from-env"
    defaults = load_settings(str(EXAMPLE)).api
    assert (defaults.host, defaults.port, defaults.overdue_hours) == ("127.0.0.1", 8090, 24.0)


def test_a_settings_file_with_several_mistakes_reports_them_all(tmp_path):
    """Issue 19: one run says everything that is wrong, not the first mistake only."""
    from relengotron.adapters.settings import SettingsError
    from relengotron.adapters.settings_file import load_settings

    f = tmp_path / "bad.toml"
    f.write_text(
        "stray = 1\n"
        '[koji]\nhub = 5\ntimeout = "soon"\n'
        "[gating]\nfoo = 1\n"
        '[gating.bisection]\nfallback = "guess"\n'
        "[api]\nport = 70000\nworkers = 0\n"
        "[nosuch]\nx = 1\n"
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(str(f))
    text = str(caught.value)
    assert text.startswith(f"{f}: 8 problems: "), text
    for problem in (
        "top-level key 'stray' must be inside a [table]",
        "[koji] hub must be a string, not int",
        "[koji] timeout must be a number, not str",
        "unknown key 'foo' in [gating]",
        "[gating.bisection] fallback must be one of",
        "[api] port must be between 1 and 65535, not 70000",
        "[api] workers must be at least 1, not 0",
        "unknown table [nosuch]",
    ):
        assert problem in text, (problem, text)
    assert "\n" not in text  # one line on stderr (the exit-code table)
