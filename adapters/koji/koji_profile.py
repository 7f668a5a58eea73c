"""koji's own configuration: ``[koji] profile`` reads a koji client profile.

Release engineers already have koji set up: ``/etc/koji.conf``, ``/etc/koji.conf.d/*.conf``
and ``~/.koji/config`` (or ``~/.koji/config.d``), one ``[profile]`` section each, read by
koji's own ``koji.read_config(profile, user_config)`` (later files override earlier ones;
``user_config``, our ``[koji] config_file``, replaces the ``~/.koji`` files, as ``koji
--config``). From the profile we take ``server`` (the hub), ``weburl``, ``topurl`` and the
login: ``authtype``, ``cert``, ``serverca``, ``principal``, ``keytab``.

The login method follows koji's CLI (``koji_cli.lib.activate_session``): ``noauth`` is
anonymous; ``ssl``, or no authtype and an existing ``cert`` file, is a client
certificate; ``kerberos``, or no authtype otherwise, is GSSAPI: with a keytab when the
profile names a principal and keytab, else the Kerberos ticket of ``kinit`` (of
``principal`` when given). Any other authtype (``password``) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import koji

__all__ = ["KojiProfile", "KojiProfileError", "read_profile"]


class KojiProfileError(ValueError):
    """A profile that cannot be read or used; the message names the profile."""


@dataclass(frozen=True)
class KojiProfile:
    name: str
    hub: str
    weburl: str | None
    topurl: str | None
    method: str  # our KojiAuth method: none | ssl | keytab | kerberos
    cert: str | None
    serverca: str | None
    principal: str | None
    keytab: str | None


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def read_profile(name: str, config_file: str | None = None) -> KojiProfile:
    """The koji profile ``name``, as koji reads it; raises :class:`KojiProfileError`."""
    if config_file is not None and not Path(config_file).expanduser().exists():
        raise KojiProfileError(f"koji config file {config_file} does not exist")
    try:
        values = koji.read_config(name, user_config=config_file)
    except (koji.ConfigurationError, koji.GenericError, OSError) as exc:
        where = config_file or "/etc/koji.conf, /etc/koji.conf.d, ~/.koji/config"
        raise KojiProfileError(f"koji profile {name!r} ({where}): {exc}") from exc
    cert, serverca = _text(values.get("cert")), _text(values.get("serverca"))
    principal, keytab = _text(values.get("principal")), _text(values.get("keytab"))
    authtype = _text(values.get("authtype"))
    if authtype == "noauth":
        method = "none"
    elif authtype == "ssl" or (authtype is None and cert and Path(cert).is_file()):
        method = "ssl"
    elif authtype == "kerberos" or authtype is None:
        method = "keytab" if principal and keytab else "kerberos"
    else:
        raise KojiProfileError(
            f"koji profile {name!r}: authtype {authtype!r} is not supported here "
            "(use ssl, kerberos or noauth)"
        )
    return KojiProfile(
        name=name,
        hub=str(values["server"]),
        weburl=_text(values.get("weburl")),
        topurl=_text(values.get("topurl")),
        method=method,
        cert=cert,
        serverca=serverca,
        principal=principal,
        keytab=keytab,
    )
