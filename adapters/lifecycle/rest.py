"""A small JSON-over-HTTP client for the lifecycle's REST systems (Bodhi, Pagure)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from relengotron.adapters.lifecycle.steps import StepError

TIMEOUT = 60.0


class Rest:
    def __init__(self, base: str, headers: dict[str, str] | None = None, what: str = "") -> None:
        self.base = base.rstrip("/") + "/"
        self.headers = headers or {}
        self.what = what or base

    def call(
        self, method: str, path: str, *, json_body: Any = None, form: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """(status, decoded JSON body); a status of 4xx/5xx is returned, not raised; the
        network failing raises :class:`StepError`."""
        url = urllib.parse.urljoin(self.base, path.lstrip("/"))
        data = None
        headers = {"Accept": "application/json", **self.headers}
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return response.status, _decode(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _decode(exc.read())
        except (urllib.error.URLError, OSError) as exc:
            raise StepError(f"{self.what} unreachable ({method} {url}): {exc}") from exc


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return {"text": raw[:300].decode("utf-8", "replace")}


def errors(payload: Any) -> str:
    """Bodhi's (cornice's) ``{"errors": [{"description": ...}]}`` or Pagure's
    ``{"error": ...}`` as one line."""
    if isinstance(payload, dict):
        if isinstance(payload.get("errors"), list):
            return "; ".join(str(e.get("description", e)) for e in payload["errors"])
        if "error" in payload:
            return str(payload["error"])
    return str(payload)[:300]
