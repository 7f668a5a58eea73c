"""ResultsDB's read API (``GET /api/v2.0/results``, ``/results/latest``, ``/results/<id>``)
over the results we recorded, for the tools that read ResultsDB (Greenwave, Bodhi's
update page, dashboards).

Followed from ResultsDB itself (release-engineering/resultsdb at a0e1e8b):
``resultsdb/controllers/api_v2.py`` (``select_results``, ``__get_results_parse_args``,
``get_results_latest``, ``pagination``, ``prev_next_urls``),
``resultsdb/parsers/api_v2.py`` (``ResultsParams``: ``page``, ``limit`` 20, ``since``,
``outcome``, ``testcases``, ``testcases:like``, ``_distinct_on``, ``_sort``, ``groups``;
comma lists) and ``resultsdb/serializers/api_v2.py`` (the result's shape). In short:

* every other query key is a data filter: ``key=v1,v2`` (any value of the result's
  ``key`` is one of them), ``key:like=pat*`` (SQL ``LIKE``, ``*`` for ``%``); filters on
  different keys must all hold; ``testcases`` and ``testcases:like`` are one "or";
* ``since=start[,end]`` bounds ``submit_time`` (the time zone dropped, as ResultsDB does);
* ``/results``: newest first (``_sort=asc:submit_time`` / ``disable_sorting``), ``page``
  (from 0) of ``limit``, ``prev``/``next`` links built from the request URL;
* ``/results/latest``: without ``_distinct_on``, the newest result of each testcase
  (ties kept); with it, the newest of each testcase and combination of those data
  values (a result with two values of a key counts once for each, as the SQL's join
  does), newest first, and at least one other filter is required (400). ``outcome``
  is not applied there, as in ResultsDB. No paging.

The records are those Greenwave's verbose answers give
(``projections.folds.greenwave_records``): ResultsDB's own when the result came from
ResultsDB, rebuilt in its shape otherwise (CI messages; composes carry
``productmd.compose.id``, Greenwave's item key for them). Our ``INVALID`` results (CI
messages that failed their schema) are left out: ResultsDB never holds them and a reader
would count them as failures. Pure given a :class:`projections.queries.ReadModel`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from relengotron.domain.facts import INVALID, OUTCOMES
from relengotron.projections.queries import ReadModel

__all__ = ["QUERY_LIMIT", "ResultsDBError", "ResultsDBQuery", "ResultsDBService"]

QUERY_LIMIT = 20
# ResultsDB's PRESET_OUTCOMES, then the others our inputs carry (Fedora's ResultsDB lists
# them in ADDITIONAL_RESULT_OUTCOMES).
_PRESET = ("PASSED", "INFO", "FAILED", "NEEDS_INSPECTION")
RESULT_OUTCOMES: tuple[str, ...] = _PRESET + tuple(sorted(OUTCOMES - set(_PRESET)))
_RESERVED = ("_sort", "limit", "page", "testcases", "testcases:like", "groups",
             "_distinct_on", "outcome", "since")  # fmt: skip
_PAGE = re.compile(r"([?&])page=([0-9]+)")
_CALLBACK = re.compile(r"([?&])callback=[^&]*&?")
_AMPERSANDS = re.compile(r"&+")
_PLACEHOLDER = "[!@#$%^&*PLACEHOLDER*&^%$#@!]"
_SORT = re.compile(r"^(?P<order>asc|desc):(?P<column>.+)$")


class ResultsDBError(Exception):
    """A request ResultsDB refuses: 400 (or 404) with its body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body


def _invalid(field_name: str, message: str, value: Any) -> ResultsDBError:
    # flask-pydantic's 400 for query parameters (``validation_error.query_params``).
    error = {"loc": [field_name], "msg": message, "type": "value_error", "input": value}
    body = {"validation_error": {"query_params": [error]}, "message": f"{field_name}: {message}"}
    return ResultsDBError(400, body)


def _query_list(values: Sequence[str]) -> list[str]:
    """``parsers/api_v2.py validate_query_list``: one value is a comma list."""
    if len(values) == 1:
        return [x for x in (x.strip() for x in values[0].split(",")) if x]
    return list(values)


def _parse_time(text: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _invalid(name, "Value error, must be in ISO8601 format", text) from None
    return parsed.replace(tzinfo=None)  # as ResultsDB: the time zone dropped, not converted


def _int(values: Sequence[str], name: str, default: int) -> int:
    if not values:
        return default
    try:
        return int(values[0])
    except ValueError:
        msg = "Input should be a valid integer, unable to parse string as an integer"
        raise _invalid(name, msg, values[0]) from None


@dataclass(frozen=True)
class ResultsDBQuery:
    page: int = 0
    limit: int = QUERY_LIMIT
    sort: str = ""
    since: tuple[datetime | None, datetime | None] = (None, None)
    outcomes: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    testcases: tuple[str, ...] = ()
    testcases_like: tuple[str, ...] = ()
    distinct_on: tuple[str, ...] = ()
    data: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, items: Sequence[tuple[str, str]]) -> ResultsDBQuery:
        """From the query string's (key, value) pairs, in order (keys may repeat)."""
        args: dict[str, list[str]] = {}
        for key, value in items:
            args.setdefault(key, []).append(value)
        get = args.get
        since: tuple[datetime | None, datetime | None] = (None, None)
        if get("since"):
            parts = get("since", [""])[0].split(",")
            start = _parse_time(parts[0], "since")
            end = _parse_time(parts[1], "since") if len(parts) > 1 else None
            since = (start, end)
        outcomes = tuple(x.upper() for x in _query_list(get("outcome", [])))
        if any(x not in RESULT_OUTCOMES for x in outcomes):
            msg = f"Value error, must be one of: {', '.join(RESULT_OUTCOMES)}"
            raise _invalid("outcome", msg, get("outcome"))
        limit = _int(get("limit", []), "limit", QUERY_LIMIT)
        if limit < 0:  # ResultsDB passes it to SQL's LIMIT; PostgreSQL refuses it
            raise _invalid("limit", "Input should be greater than or equal to 0", limit)
        data: dict[str, tuple[str, ...]] = {}
        for key, values in args.items():
            if key not in _RESERVED:  # each value a comma list, flattened
                data[key] = tuple(v for value in values for v in value.split(","))
        return cls(
            page=_int(get("page", []), "page", 0),
            limit=limit,
            sort=get("_sort", [""])[0],
            since=since,
            outcomes=outcomes,
            groups=tuple(_query_list(get("groups", []))),
            testcases=tuple(_query_list(get("testcases", []))),
            testcases_like=tuple(_query_list(get("testcases:like", []))),
            distinct_on=tuple(_query_list(get("_distinct_on", []))),
            data=data,
        )


def _like(pattern: str) -> re.Pattern[str]:
    """SQL ``LIKE`` (PostgreSQL's: case-sensitive, ``\\`` escapes) with ``*`` for ``%``."""
    out, chars = [], iter(pattern.replace("*", "%"))
    for c in chars:
        if c == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif c == "%":
            out.append(".*")
        elif c == "_":
            out.append(".")
        else:
            out.append(re.escape(c))
    return re.compile("".join(out), re.S)


def _values(record: Mapping[str, Any], key: str) -> list[str]:
    data = record.get("data")
    value = data.get(key) if isinstance(data, Mapping) else None
    if value is None:
        return []
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def _testcase(record: Mapping[str, Any]) -> str:
    tc = record.get("testcase")
    return str(tc.get("name")) if isinstance(tc, Mapping) else str(tc)


@dataclass
class _Row:
    record: dict[str, Any]
    time: datetime | None
    order: int  # log order: the later recorded sorts first among equal times


def _time(record: Mapping[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(record.get("submit_time"))).replace(tzinfo=None)
    except ValueError:
        return None


class ResultsDBService:
    def __init__(self, read_model: ReadModel) -> None:
        self.read_model = read_model

    # ------------------------------------------------------------------ reading

    def _rows(self, q: ResultsDBQuery) -> list[_Row]:
        # Narrowed in the store by the exact data filters (looked up by value) and the
        # testcases; everything is then checked here exactly.
        data = {key: values for key, values in q.data.items() if ":" not in key and values}
        names = q.testcases if q.testcases and not q.testcases_like else None
        records = self.read_model.result_records(data=data, testcases=names)
        rows = [_Row(r, _time(r), n) for n, r in enumerate(records) if r.get("outcome") != INVALID]
        return rows

    def _select(
        self, rows: list[_Row], q: ResultsDBQuery, *, outcomes: bool, testcases: bool
    ) -> list[_Row]:
        """``select_results``: since, outcome, groups, testcases (or like), data."""
        start, end = q.since
        likes = [_like(p) for p in q.testcases_like] if testcases else []
        names = set(q.testcases) if testcases else set()
        data = [(*_modifier(key), values) for key, values in q.data.items()]
        data_likes = {key: [_like(v) for v in values] for key, like, values in data if like}
        out = []
        for row in rows:
            r, t = row.record, row.time
            if start is not None and (t is None or t < start):
                continue
            if end is not None and (t is None or t > end):
                continue
            if outcomes and q.outcomes and r.get("outcome") not in q.outcomes:
                continue
            if q.groups and not set(map(str, r.get("groups") or ())) & set(q.groups):
                continue
            if names or likes:
                name = _testcase(r)
                if name not in names and not any(p.fullmatch(name) for p in likes):
                    continue
            ok = True
            for key, like, values in data:
                have = _values(r, key)
                if like:
                    ok = any(p.fullmatch(v) for p in data_likes[key] for v in have)
                else:
                    ok = any(v in values for v in have)
                if not ok:
                    break
            if ok:
                out.append(row)
        return out

    @staticmethod
    def _newest_first(rows: list[_Row]) -> list[_Row]:
        rows = sorted(rows, key=lambda x: x.order, reverse=True)
        return sorted(rows, key=lambda x: x.time or datetime.min, reverse=True)

    # ------------------------------------------------------------------ routes

    def results(self, q: ResultsDBQuery, url: str, base: str) -> dict[str, Any]:
        """``GET /api/v2.0/results`` for the request ``url``."""
        m = _SORT.match(q.sort) if q.sort else None
        order = "desc"
        if m and m.group("column") == "submit_time":
            order = m.group("order")
        elif q.sort == "disable_sorting":
            order = "log"
        offset = q.page * q.limit if q.page > 0 else 0
        if not (q.data or q.groups or q.testcases_like):  # all in the store, paged there
            records = self.read_model.result_page(
                testcases=q.testcases or None,
                outcomes=q.outcomes or None,
                since=(_text(q.since[0]), _text(q.since[1])),
                order=order,
                offset=offset,
                limit=q.limit + 1,
            )
            page = [_Row(r, None, 0) for r in records]
        else:
            rows = self._select(self._rows(q), q, outcomes=True, testcases=True)
            if order != "log":
                rows = self._newest_first(rows)
                if order == "asc":
                    rows.reverse()
            page = rows[offset : offset + q.limit + 1]
        data, prev, nxt = _prev_next(page, q.limit, url)
        return {"prev": prev, "next": nxt, "data": [_shown(r.record, base) for r in data]}

    def latest(self, q: ResultsDBQuery, base: str) -> dict[str, Any]:
        """``GET /api/v2.0/results/latest``."""
        rows = self._select(self._rows(q), q, outcomes=False, testcases=True)
        if not q.distinct_on:
            newest: dict[str, datetime | None] = {}
            for row in rows:
                name = _testcase(row.record)
                if name not in newest or _later(row.time, newest[name]):
                    newest[name] = row.time
            # Joined on the newest submit_time: a result without one never matches.
            kept = [r for r in rows if r.time is not None and r.time == newest[_testcase(r.record)]]
            return {"data": [_shown(r.record, base) for r in self._newest_first(kept)]}
        if not (q.testcases or q.testcases_like or any(q.since) or q.groups or q.data):
            message = "Please, provide at least one filter beside '_distinct_on'"
            raise ResultsDBError(400, {"message": message})
        best: dict[tuple[Any, ...], _Row] = {}
        for row in self._newest_first(rows):
            per_key: list[list[str | None]] = [
                [*_values(row.record, k)] or [None] for k in q.distinct_on
            ]
            for combo in itertools.product(*per_key):
                best.setdefault((_testcase(row.record), *combo), row)
        picked = self._newest_first(list(best.values()))
        # One row per combination: a result picked for two combinations is listed twice.
        counts: dict[int, int] = {}
        for row in best.values():
            counts[id(row)] = counts.get(id(row), 0) + 1
        data = [_shown(r.record, base) for r in picked for _ in range(counts[id(r)])]
        return {"data": data}

    def result(self, result_id: str, base: str) -> dict[str, Any]:
        """``GET /api/v2.0/results/<id>``; 404 ``Result not found``."""
        try:
            wanted = int(result_id)
        except ValueError:
            wanted = None
        if wanted is not None:
            for r in self.read_model.result_records([[str(wanted)]]):
                if r.get("id") == wanted and r.get("outcome") != INVALID:
                    return _shown(r, base)
        raise ResultsDBError(404, {"message": "Result not found"})


def _modifier(key: str) -> tuple[str, bool]:
    """``key:like`` -> (key, True); another ``key:x`` filters on ``key``; ``a:b:c`` is a
    key (``select_results``: ``key.split(":")`` into two, else no modifier)."""
    parts = key.split(":")
    if len(parts) == 2:
        return parts[0], parts[1] == "like"
    return key, False


def _text(t: datetime | None) -> str | None:
    """A ``since`` bound as the store's sortable text (``submit_sort_time``)."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f") if t is not None else None


def _later(a: datetime | None, b: datetime | None) -> bool:
    return a is not None and (b is None or a > b)


def _prev_next(page: list[_Row], limit: int, url: str) -> tuple[list[_Row], str | None, str | None]:
    """``prev_next_urls``: links from the request URL, its ``page`` replaced."""
    m = _PAGE.search(url)
    if m is None:
        base = f"{url}{'&' if '?' in url else '?'}page={_PLACEHOLDER}"
        current = 0
    else:
        base = _PAGE.sub(f"{m.group(1)}page={_PLACEHOLDER}", url)
        current = int(m.group(2))
    base = _AMPERSANDS.sub("&", _CALLBACK.sub(r"\1", base))
    prev = base.replace(_PLACEHOLDER, str(current - 1)) if current > 0 else None
    nxt = None
    if len(page) > limit:
        nxt = base.replace(_PLACEHOLDER, str(current + 1))
        page = page[:limit]
    return page, prev, nxt


def _shown(record: dict[str, Any], base: str) -> dict[str, Any]:
    """The record with ResultsDB's links where it had none (ours: a result of this API)."""
    out = dict(record)
    if not out.get("href"):
        out["href"] = f"{base}/api/v2.0/results/{out.get('id')}"
    tc = out.get("testcase")
    if isinstance(tc, Mapping):
        out["testcase"] = {"name": tc.get("name"), "ref_url": tc.get("ref_url"),
                           "href": tc.get("href")}  # fmt: skip
    out.setdefault("groups", [])
    out.setdefault("note", "")
    return out
