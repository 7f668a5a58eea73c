"""A fake robosignatory: signs what the fake koji hub has in the signing-pending tag.

Robosignatory (fedora-infra/robosignatory, ``robosignatory/tagconsumer.py``) listens
for ``buildsys.tag`` into a configured ``from`` tag, signs every rpm of the build with
the tag's key (koji writes each signature and sends ``buildsys.rpm.sign``) and moves
the build to the ``to`` tag. This fake reads the build and its rpms from the fake hub
over its state (as robosignatory reads koji), and answers with the messages koji
would send: ``buildsys.rpm.sign`` bodies in koji-fedoramessaging-messages' ``SignV1``
shape (``../shared/corpus/real/koji-fedoramessaging-messages_tests.jsonl``, and
``../shared/corpus/schemas/.../koji_fedoramessaging.rpm.SignV1.json``), then
``buildsys.untag`` from the signing tag.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import Any

from tests.fakekoji import FakeKojiHub
from tests.messages import PREFIX, Bus


class FakeSigner:
    def __init__(self, hub: FakeKojiHub, bus: Bus, tag: str, sigkey: str) -> None:
        self.hub, self.bus, self.tag, self.sigkey = hub, bus, tag, sigkey

    def waiting(self) -> list[str]:
        """The builds in the signing tag."""
        return self.hub.tagged(self.tag)

    def sign(
        self, nvr: str, *, skip: Collection[str] = (), sigkey: str | None = None
    ) -> list[dict[str, Any]]:
        """The rpm.sign messages of signing every rpm of the build (but those in ``skip``,
        by ``name-version-release.arch``), and, when all were signed, the untag."""
        build = self.hub._api_getBuild(nvr, strict=True)
        assert build is not None
        key = sigkey or self.sigkey
        source = f"git+https://src.fedoraproject.org/rpms/{build['name']}.git#{'a' * 40}"
        info = {
            **build,
            "creation_time": build["creation_ts"],
            "extra": {"source": {"original_url": source}},
            "source": source,
        }
        out = []
        for rpm in self.hub.rpms_of(nvr):
            name = f"{rpm['nvr']}.{rpm['arch']}"
            if name in skip:
                continue
            sighash = hashlib.md5(f"{name}:{key}".encode()).hexdigest()
            body = {
                "instance": "primary",
                "sigkey": key,
                "sighash": sighash,
                "rpm": {k: v for k, v in rpm.items() if k != "nvr"},
                "build": info,
            }
            out.append(self.bus.msg(f"{PREFIX}.buildsys.rpm.sign", body))
        if not skip and nvr in self.hub.tagged(self.tag):
            self.hub.untag(nvr, self.tag, user="autopen")
            out.append(self.bus.untagged(nvr, tag=self.tag))
        return out
