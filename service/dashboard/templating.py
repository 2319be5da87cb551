"""The Jinja2 environment of the dashboard: templates, filters, and `render`."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from service.routes.root import SERVICE_VERSION

NONE = "\u2013"  # an en dash for "no value"
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return NONE
    return f"{value:,.{digits}f}"


def _when(value: datetime | None) -> str:
    """UTC, to the minute: the server's clock, the same for every reader."""
    if value is None:
        return NONE
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: float | timedelta | None) -> str:
    if seconds is None:
        return NONE
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _percent(value: float | None) -> str:
    return NONE if value is None else f"{value:.0%}"


def _scalars(values: dict[str, Any]) -> list[tuple[str, Any]]:
    """A params/metrics dict as (name, value) pairs worth a table cell: numbers, short strings
    and booleans, one level of nesting flattened ("holdout ndcg_at_10"); lists are left out."""
    pairs: list[tuple[str, Any]] = []
    for key, value in sorted(values.items()):
        if isinstance(value, dict):
            pairs += [(f"{key} {k}", v) for k, v in _scalars(value) if isinstance(v, int | float)]
        elif isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= 24):
            pairs.append((key, value))
    return pairs


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


templates.env.filters.update(
    number=_number, when=_when, duration=_duration, percent=_percent, scalars=_scalars, value=_value
)
templates.env.globals.update(service_version=SERVICE_VERSION)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The template `name` with `context`; every page gets `request` and the section it belongs to."""
    return templates.TemplateResponse(request, name, context, status_code=status_code)
