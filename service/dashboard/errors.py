"""Every failure of a page becomes a page: 404 for an unknown id, a readable 503 when the
database is away, never a stack trace (the API's own handlers answer JSON, for machines)."""

import logging
from collections.abc import Callable, Coroutine
from typing import Any

import psycopg
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy import exc as sa_exc

from cinecluster.errors import UserError
from service.dashboard.templating import render
from service.errors import ApiError, is_database_unavailable

log = logging.getLogger("cinecluster.dashboard")

TITLES = {
    404: "Not found",
    422: "Invalid request",
    503: "Service unavailable",
    500: "Something went wrong",
}


def error_page(request: Request, status_code: int, message: str, detail: str | None = None) -> HTMLResponse:
    return render(
        request,
        "error.html",
        status_code,
        title=TITLES.get(status_code, "Error"),
        code=status_code,
        message=message,
        detail=detail,
    )


def _invalid(request: Request, error: RequestValidationError) -> HTMLResponse:
    first = error.errors()[0] if error.errors() else {}
    where = [str(part) for part in first.get("loc", ())]
    if where and where[0] == "path":  # /dashboard/movies/abc: no such page
        return error_page(request, 404, "Page not found", f"{where[-1]}: {first.get('msg', 'invalid')}")
    return error_page(request, 422, "Invalid request", f"{where[-1]}: {first.get('msg', 'invalid')}")


def _database(request: Request, error: Exception) -> HTMLResponse:
    if is_database_unavailable(error):
        return error_page(
            request,
            503,
            "The database is not answering",
            "The service cannot reach PostgreSQL right now; this page works again as soon as it"
            " does. Try again in a moment.",
        )
    log.exception("dashboard page failed")
    return error_page(request, 500, "The page could not be built", type(error).__name__)


class PageRoute(APIRoute):
    """A route whose errors render the dashboard's error page instead of JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as error:
                detail = error.detail if isinstance(error.detail, str) else None
                return error_page(request, error.status_code, error.error, detail)
            except UserError as error:
                return error_page(request, error.status_code, str(error))
            except RequestValidationError as error:
                return _invalid(request, error)
            except (sa_exc.SQLAlchemyError, psycopg.Error, OSError) as error:
                return _database(request, error)

        return page


def page_router(prefix: str) -> APIRouter:
    """A router of dashboard pages: errors as pages, kept out of the API's OpenAPI schema."""
    return APIRouter(prefix=prefix, route_class=PageRoute, include_in_schema=False)
