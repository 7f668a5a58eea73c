"""Bodhi's own code asking a Greenwave-compatible decision API about updates.

Run by the Bodhi venv's python (tests/bodhi_env.py), never imported by the project's
tests: ``<bodhi python> tests/bodhi_helper.py < request.json > answer.json``.

The request is one line of JSON: ``greenwave_api_url``, ``batch_size`` (Bodhi's
``greenwave_batch_size``), ``updates`` (``alias``, ``builds``, ``request``, ``status``,
``critpath``, ``critpath_groups``, ``modified_hours_ago``) and ``probes`` (raw decision
requests sent with ``util.greenwave_api_post``). The answer, one JSON object on stdout:
``bodhi_version`` and per update alias what Bodhi derives:

* ``product_version``, ``contexts`` and ``requests``: ``Update.product_version``,
  ``Update._greenwave_decision_contexts`` and ``Update.greenwave_request_batches``, the
  requests Bodhi sends (the update page gets the same list as
  ``greenwave_request_batches_json``);
* ``decisions`` (or ``decisions_error``): ``Update.get_test_gating_info()``, what
  Bodhi's ``GET /updates/{id}/get-test-results`` returns;
* ``status``, ``passed``, ``comments``: ``Update.update_test_gating_status()``, then
  ``test_gating_status``, ``test_gating_passed`` and the comments Bodhi posted.

With ``page_port``, the answer is one line, and then Bodhi's web application itself
(``bodhi.server.main``, as bodhi-server/tests/base.py builds it for its functional
tests) serves the updates' pages on that port of 127.0.0.1 through waitress until
standard input is closed: ``/updates/<alias>`` is Bodhi's real update page, whose script
asks ``greenwave_api_url`` from the browser.

Set up as Bodhi's own test base does (bodhi-server/tests/base.py ``_setup_method``,
``populate``, ``create_update``; bodhi-server/tests/testing.ini), with an SQLite file
database and nothing mocked: the messages Bodhi queues (notifications.publish) would go
out on commit, so the queue is dropped before the one commit (page mode only), and
``bodhi_email`` is empty, so no mail is sent.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import traceback
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def configure(request: dict[str, Any], tmp: Path) -> None:
    """An ini file as production's (bodhi-server/production.ini; tests/testing.ini for
    the test values), named by ``BODHI_CONFIG`` and loaded by bodhi.server.config, before
    the models are imported (bodhi.server.tasks reads ``celery_config`` at import)."""
    celery = tmp / "celeryconfig.py"
    celery.write_text('broker_url = "memory://"\nimports = "bodhi.server.tasks"\n')
    settings = {
        "use": "egg:bodhi-server",
        "sqlalchemy.url": f"sqlite:///{tmp / 'bodhi.db'}",
        "celery_config": str(celery),
        "greenwave_api_url": request["greenwave_api_url"],
        "greenwave_batch_size": str(request.get("batch_size", 8)),
        "test_gating.required": "true",
        "buildsystem": "dummy",
        "acl_system": "dummy",
        "bugtracker": "dummy",
        "bodhi_email": "",
        "warm_cache_on_start": "false",
        "base_address": "https://bodhi.example.org/",
        "libravatar_enabled": "false",
        # The page's Content-Security-Policy connect-src: production.ini allows
        # https://*.fedoraproject.org/, where Greenwave is; here, the decision API.
        "cors_connect_src": urllib.parse.urljoin(request["greenwave_api_url"], "/"),
        "authtkt.secret": "contract-test",
        "session.secret": "contract-test",
        "dogpile.cache.backend": "dogpile.cache.memory",
        "dogpile.cache.expiration_time": "0",
    }
    ini = tmp / "bodhi.ini"
    ini.write_text("[app:main]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
    os.environ["BODHI_CONFIG"] = str(ini)
    from bodhi.server import config

    config.config.clear()
    config.config.load_config()


def database() -> Any:
    from bodhi.server import Session, initialize_db, models
    from bodhi.server.config import config

    engine = initialize_db(config)
    models.Base.metadata.create_all(engine)
    Session.configure(bind=engine, autoflush=False, expire_on_commit=False)
    db = Session()
    # tests/base.py populate(): a user, a packager group, a current release.
    user = models.User(name="guest")
    db.add(user)
    release = models.Release(
        name="F40", long_name="Fedora 40", id_prefix="FEDORA", version="40",
        dist_tag="f40", stable_tag="f40-updates", testing_tag="f40-updates-testing",
        candidate_tag="f40-updates-candidate",
        pending_signing_tag="f40-signing-pending",
        pending_testing_tag="f40-updates-testing-pending",
        pending_stable_tag="f40-updates-pending", override_tag="f40-override",
        branch="f40", state=models.ReleaseState.current,
        package_manager=models.PackageManager.dnf, testing_repository="updates-testing",
    )  # fmt: skip
    db.add(release)
    db.flush()
    return db


def make_update(db: Any, spec: dict[str, Any]) -> Any:
    """tests/base.py create_update(), with the alias, state and critpath we need."""
    from bodhi.server import models

    release = db.query(models.Release).filter_by(name="F40").one()
    user = db.query(models.User).filter_by(name="guest").one()
    builds = []
    for nvr in spec["builds"]:
        name = nvr.rsplit("-", 2)[0]
        package = db.query(models.RpmPackage).filter_by(name=name).one_or_none()
        if package is None:
            package = models.RpmPackage(name=name)
            db.add(package)
        build = models.RpmBuild(nvr=nvr, release=release, package=package, signed=True)
        db.add(build)
        builds.append(build)
    submitted = datetime.now(UTC) - timedelta(hours=spec.get("modified_hours_ago", 0.0))
    request = spec.get("request", "testing")
    update = models.Update(
        builds=builds, user=user, release=release,
        request=models.UpdateRequest.from_string(request) if request else None,
        status=models.UpdateStatus.from_string(spec.get("status", "pending")),
        notes="Contract test update", type=models.UpdateType.bugfix,
        date_submitted=submitted, stable_karma=3, unstable_karma=-3,
        critpath=spec.get("critpath", False), critpath_groups=spec.get("critpath_groups"),
    )  # fmt: skip
    update.alias = spec["alias"]
    db.add(update)
    db.flush()
    return update


def ask(db: Any, update: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "product_version": update.product_version,
        "contexts": update._greenwave_decision_contexts,
        "requests": update.greenwave_request_batches(verbose=True),
    }
    try:
        out["decisions"] = update.get_test_gating_info()
    except Exception as exc:  # what the get-test-results view would turn into an error
        out["decisions_error"] = f"{type(exc).__name__}: {exc}"
    update.update_test_gating_status()
    db.flush()
    status = update.test_gating_status
    out["status"] = None if status is None else status.value
    out["passed"] = update.test_gating_passed
    out["comments"] = [c.text for c in update.comments if c.user.name == "bodhi"]
    return out


def probe(data: dict[str, Any]) -> dict[str, Any]:
    from bodhi.server import util
    from bodhi.server.config import config

    try:
        return {"answer": util.greenwave_api_post(f"{config['greenwave_api_url']}/decision", data)}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def serve_pages(db: Any, port: int) -> None:
    """Bodhi's web application on 127.0.0.1:``port`` until standard input closes."""
    import threading

    from bodhi.server import main as wsgi_app
    from waitress.server import create_server

    db.info.pop("messages", None)  # queued bus messages: never sent
    db.commit()
    server = create_server(wsgi_app({}, session=db), host="127.0.0.1", port=port, threads=1)
    threading.Thread(target=server.run, daemon=True).start()
    sys.stdin.read()
    server.close()


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    request = json.loads(sys.stdin.readline())
    with tempfile.TemporaryDirectory(prefix="bodhi-helper-") as tmp:
        configure(request, Path(tmp))
        from importlib.metadata import version

        db = database()
        answer: dict[str, Any] = {"bodhi_version": version("bodhi-server"), "updates": {}}
        for spec in request.get("updates", []):
            try:
                answer["updates"][spec["alias"]] = ask(db, make_update(db, spec))
            except Exception:
                answer["updates"][spec["alias"]] = {"crash": traceback.format_exc()}
        answer["probes"] = {name: probe(data) for name, data in request.get("probes", {}).items()}
        json.dump(answer, sys.stdout)
        if request.get("page_port"):
            sys.stdout.write("\n")
            sys.stdout.flush()
            serve_pages(db, int(request["page_port"]))
        else:
            db.rollback()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
