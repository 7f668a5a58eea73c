"""``[koji] profile``: koji's own configuration (issue 16, item 6).

koji reads profiles with ``koji.read_config(profile_name, user_config=None)``
(koji/__init__.py: ``/etc/koji.conf.d``, ``/etc/koji.conf``, then ``user_config`` or
``~/.koji/config.d`` and ``~/.koji/config``; later files override earlier ones; a missing
profile is ``ConfigurationError("no configuration for profile name: ...")``); the login
follows ``koji_cli/lib.py`` ``activate_session``. The profiles here are written to a tmp
directory (koji config files and a HOME of their own), never the machine's /etc; their
names are not ones a machine's /etc/koji.conf would define.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters import bootstrap
from relengotron.adapters.settings import SettingsError
from relengotron.adapters.settings_file import settings_from
from tests.fakekoji import FakeKojiHub

PROFILE = "relengotron-test-koji"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def profile_file(tmp_path: Path, **keys: str) -> Path:
    body = "".join(f"{k} = {v}\n" for k, v in keys.items())
    return write(tmp_path / "koji.conf", f"[{PROFILE}]\n{body}")


def settings(koji: dict[str, Any], **tables: Any) -> Any:
    return settings_from({"koji": koji, **tables}, source="s.toml")


def test_the_profile_gives_hub_weburl_topurl_and_ssl_auth(tmp_path: Path) -> None:
    cert = write(tmp_path / "client.pem", "PEM")
    conf = profile_file(
        tmp_path,
        server="https://koji.example.org/kojihub",
        weburl="https://koji.example.org/koji",
        topurl="https://kojipkgs.example.org",
        authtype="ssl",
        cert=str(cert),
        serverca=str(tmp_path / "ca.crt"),
    )
    k = settings({"profile": PROFILE, "config_file": str(conf)}).koji
    assert (k.profile, k.hub, k.weburl, k.topurl) == (
        PROFILE,
        "https://koji.example.org/kojihub",
        "https://koji.example.org/koji",
        "https://kojipkgs.example.org",
    )
    assert (k.auth.method, k.auth.cert, k.auth.serverca) == (
        "ssl",
        str(cert),
        str(tmp_path / "ca.crt"),
    )


def test_our_keys_override_the_profile(tmp_path: Path) -> None:
    conf = profile_file(
        tmp_path, server="https://koji.example.org/kojihub", authtype="kerberos",
        principal="me@EXAMPLE.ORG", keytab="/k.keytab",
    )  # fmt: skip
    k = settings(
        {"profile": PROFILE, "config_file": str(conf), "hub": "https://staging/kojihub"},
        **{"koji.keytab": {"keytab": "/ours.keytab"}},
    ).koji
    assert (k.hub, k.auth.method, k.auth.principal, k.auth.keytab) == (
        "https://staging/kojihub",
        "keytab",
        "me@EXAMPLE.ORG",
        "/ours.keytab",
    )
    k = settings({"profile": PROFILE, "config_file": str(conf), "auth": "none"}).koji
    assert k.auth.method == "none"


@pytest.mark.parametrize(
    ("keys", "method"),
    [
        ({"authtype": "noauth"}, "none"),
        ({"authtype": "kerberos"}, "kerberos"),  # the kinit ticket
        ({"authtype": "kerberos", "principal": "p@R", "keytab": "/k"}, "keytab"),
        ({}, "kerberos"),  # no authtype, no cert file: koji's CLI tries GSSAPI
        ({"cert": "CERT"}, "ssl"),  # no authtype, a cert file: koji's CLI uses it
    ],
)
def test_the_login_follows_kojis_cli(tmp_path: Path, keys: dict[str, str], method: str) -> None:
    if keys.get("cert") == "CERT":
        keys = {"cert": str(write(tmp_path / "c.pem", "PEM"))}
    conf = profile_file(tmp_path, server="https://h/kojihub", **keys)
    assert settings({"profile": PROFILE, "config_file": str(conf)}).koji.auth.method == method


def test_home_koji_config_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # ~/.koji/config of a HOME of its own
    write(tmp_path / ".koji" / "config", f"[{PROFILE}]\nserver = https://home/kojihub\n")
    write(tmp_path / ".koji" / "config.d" / "a.conf", f"[{PROFILE}]\nweburl = https://home/koji\n")
    k = settings({"profile": PROFILE}).koji
    assert (k.hub, k.weburl) == ("https://home/kojihub", "https://home/koji")


def test_relative_config_file_is_beside_the_settings(tmp_path: Path) -> None:
    profile_file(tmp_path, server="https://rel/kojihub")
    cfg = settings_from(
        {"koji": {"profile": PROFILE, "config_file": "koji.conf"}}, source="s", base=tmp_path
    )
    assert cfg.koji.hub == "https://rel/kojihub"


@pytest.mark.parametrize(
    ("koji", "message"),
    [
        ({"profile": "nope-not-a-profile", "config_file": "CONF"},
         "no configuration for profile name: nope-not-a-profile"),
        ({"profile": PROFILE, "config_file": "/nonexistent/koji.conf"},
         "koji config file /nonexistent/koji.conf does not exist"),
        ({"config_file": "CONF"}, "[koji] config_file needs [koji] profile"),
        ({"profile": PROFILE, "config_file": "PASSWORD"},
         "authtype 'password' is not supported here"),
    ],
)  # fmt: skip
def test_bad_profiles_are_settings_errors(
    tmp_path: Path, koji: dict[str, str], message: str
) -> None:
    conf = profile_file(tmp_path, server="https://h/kojihub")
    password = write(
        tmp_path / "pw.conf", f"[{PROFILE}]\nserver = https://h\nauthtype = password\n"
    )
    koji = {k: {"CONF": str(conf), "PASSWORD": str(password)}.get(v, v) for k, v in koji.items()}
    with pytest.raises(SettingsError) as info:
        settings(koji)
    assert str(info.value).startswith("s.toml: [koji]")
    assert message in str(info.value)


def test_a_gateway_on_the_profiles_hub_reads_koji(tmp_path: Path, fake_koji: FakeKojiHub) -> None:
    # The hub comes from the profile only; the gateway talks to it with koji.ClientSession.
    fake_koji.add_tag("rawhide")
    fake_koji.add_build("bash-5.3-1.fc44", tags=["rawhide"])
    conf = profile_file(tmp_path, server=fake_koji.url, authtype="noauth")
    gw = bootstrap.koji_gateway(settings({"profile": PROFILE, "config_file": str(conf)}))
    assert gw is not None
    try:
        assert gw.tags_of("bash-5.3-1.fc44") == ["rawhide"]
    finally:
        gw.close()
