"""ResultsDB's read API (``/api/v2.0/results``, ``/results/latest``, ``/results/<id>``)
over what we recorded (:mod:`projections.resultsdb_api`), so that Greenwave (its
``ResultsRetriever``), Bodhi's update page and dashboards can read our results as they
read ResultsDB's. Errors are ResultsDB's bodies; a store that cannot be read is a 503."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.exc import SQLAlchemyError

from relengotron.adapters.http import schemas
from relengotron.adapters.http.guard import describe
from relengotron.adapters.http.responses import json_response
from relengotron.projections.queries import ReadModel
from relengotron.projections.resultsdb_api import ResultsDBError, ResultsDBQuery, ResultsDBService

_QUERY_DOC = (
    "ResultsDB's filters: page, limit (20), since=START[,END], outcome, testcases, "
    "testcases:like, groups, _sort, and any other KEY=V1,V2 or KEY:like=PATTERN on the "
    "result's data (item, type, productmd.compose.id, scenario, ...)"
)
_PAGE = schemas.json_content({"type": "object", "required": ["prev", "next", "data"]})
_DATA = schemas.json_content({"type": "object", "required": ["data"]})


def add_resultsdb(app: FastAPI, read_model: ReadModel) -> None:
    service = ResultsDBService(read_model)

    def answer(request: Request, respond: Callable[[str], object]) -> Response:
        base = str(request.base_url).rstrip("/")
        try:
            return json_response(respond(base))
        except ResultsDBError as exc:
            return json_response(exc.body, exc.status)
        except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
            why = f"The store cannot be read: {describe(exc)}"
            return json_response({"message": why}, 503, {"Retry-After": "5"})

    def query(request: Request) -> ResultsDBQuery:
        return ResultsDBQuery.parse(request.query_params.multi_items())

    @app.get(
        "/api/v2.0/results",
        tags=["resultsdb"],
        summary="Results, newest first, a page at a time (ResultsDB's)",
        description=_QUERY_DOC,
        responses={200: {"description": "A page", **_PAGE}, **schemas.errors(400, 503)},
    )
    def results(request: Request) -> Response:
        return answer(request, lambda base: service.results(query(request), str(request.url), base))

    @app.get(
        "/api/v2.0/results/latest",
        tags=["resultsdb"],
        summary="The newest result of each testcase (and _distinct_on data) (ResultsDB's)",
        description=_QUERY_DOC + "; _distinct_on=KEY,...",
        responses={200: {"description": "The results", **_DATA}, **schemas.errors(400, 503)},
    )
    def latest(request: Request) -> Response:
        return answer(request, lambda base: service.latest(query(request), base))

    @app.get(
        "/api/v2.0/results/{result_id}",
        tags=["resultsdb"],
        summary="One result (ResultsDB's)",
        responses={
            200: {"description": "The result", **schemas.json_content({"type": "object"})},
            **schemas.errors(404, 503),
        },
    )
    def result(request: Request, result_id: str) -> Response:
        return answer(request, lambda base: service.result(result_id, base))
