"""One error type for the API and the handlers that turn every failure into `{error, detail}`."""

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from cinecluster.errors import UserError

log = logging.getLogger("cinecluster.api")


class ApiError(Exception):
    """An answer other than 2xx: status code, a short stable message, optional detail."""

    def __init__(
        self, status_code: int, error: str, detail: Any = None, headers: dict[str, str] | None = None
    ):
        super().__init__(error)
        self.status_code = status_code
        self.error = error
        self.detail = detail
        self.headers = headers


def not_found(what: str) -> ApiError:
    """The original messages: "Movie not found", "User not found", ..."""
    return ApiError(404, f"{what} not found")


def no_active_model() -> ApiError:
    return ApiError(503, "No active model", "run `cinecluster recluster` or POST /admin/recluster first")


def _body(error: str, detail: Any = None) -> dict[str, Any]:
    return {"error": error, "detail": detail}


def is_database_unavailable(error: Exception) -> bool:
    """Connection refused/lost, pool exhausted or statement timeout: the database, not the request."""
    if isinstance(error, sa_exc.TimeoutError):  # pool checkout timed out
        return True
    if isinstance(error, sa_exc.DBAPIError):
        return error.connection_invalidated or isinstance(error.orig, psycopg.OperationalError)
    return isinstance(error, psycopg.OperationalError | OSError)


def _first_line(error: Exception) -> str:
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as JSON `{error, detail}` with a real status code."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(_body(error.error, error.detail), error.status_code, headers=error.headers)

    @app.exception_handler(UserError)
    async def _user_error(_: Request, error: UserError) -> JSONResponse:
        return JSONResponse(_body(str(error)), error.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        detail = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in error.errors()
        ]
        return JSONResponse(_body("Invalid request", detail), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(_body(str(error.detail)), error.status_code, headers=error.headers)

    @app.exception_handler(sa_exc.SQLAlchemyError)
    async def _database(_: Request, error: sa_exc.SQLAlchemyError) -> JSONResponse:
        if is_database_unavailable(error):
            return JSONResponse(_body("Database unavailable", _first_line(error)), 503)
        log.exception("database error")
        return JSONResponse(_body("Internal error", type(error).__name__), 500)

    @app.exception_handler(psycopg.OperationalError)
    async def _driver(_: Request, error: psycopg.OperationalError) -> JSONResponse:
        return JSONResponse(_body("Database unavailable", _first_line(error)), 503)
