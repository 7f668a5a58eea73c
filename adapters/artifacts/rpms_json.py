"""The rpms a productmd compose shipped (``metadata/rpms.json``) as a ``Manifest``, read
and validated by ``productmd`` (release engineering's library for pungi's metadata,
``productmd/rpms.py``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import productmd.rpms

from relengotron.adapters.artifacts.manifests import (
    Manifest,
    ManifestError,
    Versions,
    _fetch,
    _is_url,
    _keep_newest,
    _split_nevr,
)

__all__ = ["parse_rpms_json"]

_NON_BINARY = ("source", "debug")


def _read_json(source: str | Path, timeout: float) -> Any:
    try:
        return json.loads(
            _fetch(str(source), timeout) if _is_url(source) else Path(source).read_bytes()
        )
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{source}: cannot read rpms.json: {exc}") from exc


def parse_rpms_json(
    source: str | Path | Mapping[str, Any],
    *,
    variant: str | None = None,
    arch: str | None = None,
    timeout: float = 60.0,
) -> Manifest:
    """The binary rpms (not debug, not source) of a productmd ``rpms.json``, read and
    validated by productmd (``productmd.rpms.Rpms``: the header, the compose, the older
    0.3 layout converted; every rpm read is checked as ``Rpms.add`` checks what pungi
    writes: arch, category, relative path, ``N-E:V-R.A`` with its source rpm)."""
    label = "rpms.json" if isinstance(source, Mapping) else str(source)
    data = source if isinstance(source, Mapping) else _read_json(source, timeout)
    header = data.get("header") if isinstance(data, Mapping) else None
    kind = header.get("type", "productmd.rpms") if isinstance(header, Mapping) else None
    if kind != "productmd.rpms":
        raise ManifestError(f"{label}: header type is {kind!r}, not 'productmd.rpms'")
    payload = data.get("payload")
    if not isinstance(payload, Mapping) or not isinstance(
        payload.get("rpms", payload.get("manifest")), Mapping
    ):
        raise ManifestError(f"{label}: no payload.rpms mapping")
    loaded = productmd.rpms.Rpms()
    try:
        loaded.deserialize(dict(data))  # reads it, changes nothing
    except (KeyError, AttributeError, TypeError, ValueError) as exc:
        raise ManifestError(f"{label}: not a valid productmd rpms.json: {_why(exc)}") from exc
    rpms_map = loaded.rpms
    if variant is not None and variant not in rpms_map:
        raise ManifestError(f"{label}: no variant {variant!r} (has {sorted(rpms_map)})")
    checked = productmd.rpms.Rpms()
    packages: dict[str, str] = {}
    rpms: set[str] = set()
    versions = Versions()
    arch_seen = False
    where = ""
    try:
        for var, arches in rpms_map.items():
            if variant is not None and var != variant:
                continue
            for arch_name, srpms in arches.items():
                if arch is not None and arch_name != arch:
                    continue
                arch_seen = True
                for srpm, binaries in srpms.items():
                    for nevra, info in binaries.items():
                        where = f"{var}/{arch_name}/{nevra}: "
                        category = info["category"]
                        checked.add(var, arch_name, nevra, info["path"], info["sigkey"],
                                    category, None if category == "source" else srpm)  # fmt: skip
                    where = f"{var}/{arch_name}/{srpm}: "
                    _add_source(packages, rpms, srpm, binaries, versions)
    except (KeyError, AttributeError, TypeError, ValueError) as exc:
        raise ManifestError(
            f"{label}: not a valid productmd rpms.json: {where}{_why(exc)}"
        ) from exc
    if arch is not None and not arch_seen:
        raise ManifestError(f"{label}: no arch {arch!r} in the selected variants")
    return Manifest(dict(sorted(packages.items())), tuple(sorted(rpms)))


def _why(exc: Exception) -> str:
    return f"missing {exc}" if isinstance(exc, KeyError) else str(exc)


def _add_source(
    packages: dict[str, str],
    rpms: set[str],
    srpm: str,
    binaries: Mapping[str, Any],
    versions: Versions,
) -> None:
    counted = False
    for nevra, info in binaries.items():
        stem, _, rpm_arch = nevra.rpartition(".")
        if info.get("category") in _NON_BINARY or rpm_arch in ("src", "nosrc"):
            continue
        name, epoch, version, release = _split_nevr(stem)
        rpms.add(f"{name}-{epoch}:{version}-{release}.{rpm_arch}")
        counted = True
    if counted:
        src, _, version, release = _split_nevr(srpm.rpartition(".")[0])
        _keep_newest(packages, src, f"{src}-{version}-{release}", versions)
