"""How every command ends: one exit-code table, applied once (``adapters.cli.main.main``).
The README's "Exit codes" repeats it; ``tests/e2e/test_cli_exits.py`` runs every command
through it (``table``).

=====  =============================================================================
code   meaning
=====  =============================================================================
0      all done: everything recorded, every action done, the answer is yes
1      some input rejected or some action failed, the rest done (partial); for a
       question, the answer is no: a subject nothing is known about (``status``,
       ``explain``, ``events``, ``evaluate``, ``push``, ``replay --until NVR``,
       ``graph --artifact``), policies not satisfied (``decision``, ``evaluate``), a
       stopped push, limits passed (``health``), a replay that differs
2      usage, configuration, a file that cannot be read or written, a malformed
       build or package name (``not an nvr!``), or the store missing or unreachable:
       one line on stderr naming what (the store's URL with its password masked) and
       the cause
70     internal error (``EX_SOFTWARE``): an exception nobody expected; one line,
       the traceback only with ``--debug``
130    interrupted (Ctrl-C) before the command finished
=====  =============================================================================

An input about something nothing is known about yet, that can wait for it (``waive``,
``override`` of an unknown build, a waiver of a test case the build neither requires nor
has results for) is recorded, with a warning on stderr, and exits 0
(``adapters.cli.subjects``).
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from collections.abc import Callable
from typing import TextIO

from relengotron.adapters.store.store_errors import StoreError, last_url, store_failure

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 70, 130

log = logging.getLogger("relengotron.adapters.cli")


class UsageError(Exception):
    """Bad arguments or configuration found after parsing: printed, exit 2."""


def _usage_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that say the user's input (arguments, settings, policies, URL) is
    unusable. Imported here, when needed, so the table stays in one place."""
    from relengotron.adapters.artifacts.definitions import DefinitionError
    from relengotron.adapters.artifacts.registry import KindLoadError
    from relengotron.adapters.koji.koji_values import KojiConfigError
    from relengotron.adapters.settings import SettingsError
    from relengotron.adapters.store.store import StoreURLError
    from relengotron.policies.spec import PolicyError

    return (
        UsageError,
        StoreURLError,
        SettingsError,
        PolicyError,
        KojiConfigError,
        DefinitionError,
        KindLoadError,
    )


def run_command(
    command: str, body: Callable[[], int], *, debug: bool = False, stderr: TextIO | None = None
) -> int:
    """Run ``body`` (a command) and turn how it ended into the exit code of the table."""
    started = time.monotonic()
    code = _run(command, body, debug=debug, stderr=stderr)
    log.info("%s: exit %d in %.2f s", command, code, time.monotonic() - started)
    return code


def _run(command: str, body: Callable[[], int], *, debug: bool, stderr: TextIO | None) -> int:
    err = stderr or sys.stderr

    def say(text: str) -> None:
        if debug:
            traceback.print_exc(file=err)
        print(f"relengotron {command}: {_scrubbed(text)}", file=err, flush=True)

    try:
        return body()
    except StoreError as exc:
        say(str(exc))
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. piped into head: the reader has what it wanted
        _quiet_stdout()
        return EXIT_OK
    except KeyboardInterrupt:
        say("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if isinstance(exc, _usage_errors()):
            say(str(exc))
            return EXIT_USAGE
        if isinstance(exc, OSError) and exc.filename is not None:  # a file named to us
            say(f"{exc.filename}: {exc.strerror or exc}")
            return EXIT_USAGE
        cause = store_failure(exc)
        if cause is not None:  # the store failed mid-command
            say(StoreError(last_url() or "(unknown store)", cause).describe())
            return EXIT_USAGE
        what = f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__
        say(
            f"internal error ({what[:300]}); this is a bug: rerun with --debug for the "
            "traceback and report it"
        )
        return EXIT_INTERNAL


def _scrubbed(text: str) -> str:
    """``text`` without the store's password, should a message repeat the URL."""
    url = last_url()
    if not url:
        return text
    try:
        from sqlalchemy.engine import make_url

        password = make_url(url).password
    except Exception:  # an unparsable URL was refused before it was used
        return text
    return text.replace(str(password), "***") if password else text


def _quiet_stdout() -> None:
    """Point stdout at /dev/null: what is still buffered for the closed pipe is
    dropped at exit instead of raising again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (tests)
        pass
