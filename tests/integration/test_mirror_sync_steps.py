"""``adapters.effects.mirror_sync`` step by step with real rsync: each state a crash can
leave (a half-filled staging copy, a renamed copy without its link, a stale link
temporary) is finished by the next try; a link never goes back to an older compose."""

from __future__ import annotations

import os
from pathlib import Path

from relengotron.adapters.effects.mirror_sync import ALREADY, FAILED, SYNCED, TRANSIENT, MirrorSync
from tests.e2e.test_mirror_sync import LINK, NEW, OLD, make_compose, same_tree


def params(source: Path, target: Path, compose: str = NEW) -> dict[str, str]:
    return {"compose": compose, "source": str(source), "target": str(target)}


def test_a_half_filled_staging_copy_is_finished(tmp_path: Path) -> None:
    source = make_compose(tmp_path / "src", NEW, 1)
    mirror = tmp_path / "mirror"
    staging = mirror / ".relengotron" / NEW
    (staging / "Everything").mkdir(parents=True)
    (staging / "Everything" / "leftover.tmp").write_text("from the killed rsync")
    (staging / "metadata").mkdir()
    (staging / "metadata" / "composeinfo.json").write_text("half")
    done = MirrorSync().sync(params(source, mirror))
    assert done.outcome == SYNCED, done
    assert same_tree(source, mirror / NEW) and not staging.exists()
    assert os.readlink(mirror / LINK) == NEW


def test_a_renamed_copy_without_its_link_gets_it(tmp_path: Path) -> None:
    source = make_compose(tmp_path / "src", NEW, 1)
    mirror = tmp_path / "mirror"
    assert MirrorSync().sync(params(source, mirror)).outcome == SYNCED
    (mirror / LINK).unlink()  # the crash fell between the rename and the switch
    (mirror / f".{LINK}.999").symlink_to("elsewhere")  # and left a temporary link
    done = MirrorSync().sync(params(source, mirror))
    assert done.outcome == SYNCED and done.result["files_transferred"] == 0
    assert os.readlink(mirror / LINK) == NEW
    assert MirrorSync().sync(params(source, mirror)).outcome == ALREADY


def test_the_link_never_goes_back_to_an_older_compose(tmp_path: Path) -> None:
    new = make_compose(tmp_path / "src", NEW, 2)
    old = make_compose(tmp_path / "src", OLD, 1)
    mirror = tmp_path / "mirror"
    assert MirrorSync().sync(params(new, mirror)).outcome == SYNCED
    done = MirrorSync().sync(params(old, mirror, OLD))
    assert done.outcome == SYNCED and done.result["switched"] is False
    assert same_tree(old, mirror / OLD)
    assert os.readlink(mirror / LINK) == NEW


def test_failures_say_whether_to_try_again(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    gone = MirrorSync().sync(params(tmp_path / "nowhere", mirror))
    assert gone.outcome == FAILED and "not at" in gone.detail
    source = make_compose(tmp_path / "src", NEW, 1)
    missing = MirrorSync(("rsync-that-is-not-installed",)).sync(params(source, mirror))
    assert missing.outcome == FAILED and "cannot run" in missing.detail
    # A mirror that cannot be written (a file where the directory should be): try later.
    blocked = tmp_path / "blocked"
    blocked.write_text("")
    assert MirrorSync().sync(params(source, blocked)).outcome == TRANSIENT
    assert not (mirror / LINK).exists()
