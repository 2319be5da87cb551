"""The query parameters of the recommendation lists (GET /recommend/movie/{id} and
/recommend/user/{id}, POST /recommend/users and /recommend/session), declared once so that every
route describes and checks them alike (the genre filter is shared with /movies: GenreQuery)."""

from enum import StrEnum
from typing import Annotated

from fastapi import Query

from service.errors import ApiError
from service.schemas.common import INT4_MAX

N = Annotated[int, Query(ge=1, le=100, description="How many, 1..100.")]
RecOffset = Annotated[int, Query(ge=0, le=1000, description="Skip this many of the ranking (paging).")]
Seed = Annotated[
    int | None,
    Query(ge=0, le=2**62, description="Only for strategy=random: the same seed gives the same sample."),
]


class Fallback(StrEnum):
    popular = "popular"


FallbackQuery = Annotated[
    Fallback | None,
    Query(
        description="`popular`: a user with no ratings gets the most rated movies (reason"
        " `popular: ...`) instead of a 404."
    ),
]

MAX_EXCLUDE = 500
# the shape only; the count and each id's range are checked by parse_exclude (a regex bounding
# the count would be 500 nested repetitions, and its mismatch message would not say why)
ExcludeQuery = Annotated[
    str | None,
    Query(
        description=f"Movie ids to leave out, comma-separated (at most {MAX_EXCLUDE}): removed before"
        " paging, so a page stays full and the rest keep their order.",
        pattern=r"^([0-9]+(,[0-9]+)*)?$",
        max_length=MAX_EXCLUDE * 11,
        examples=["318,2571"],
    ),
]


def parse_exclude(value: str | None) -> tuple[int, ...]:
    """`exclude=1,2,3` as ids; more than MAX_EXCLUDE, or an id outside 1..2^31-1, is a 422."""
    if not value:
        return ()
    parts = value.split(",")
    # no int() of a 5,000-digit part: Python refuses those (a ValueError, i.e. a 500)
    ids = tuple(int(part) if len(part) <= 10 else 0 for part in parts)
    if len(ids) > MAX_EXCLUDE:
        problem = f"at most {MAX_EXCLUDE} movie ids, got {len(ids)}"
    elif not all(1 <= i <= INT4_MAX for i in ids):
        problem = f"movie ids are 1..{INT4_MAX}"
    else:
        return ids
    raise ApiError(
        422, "Invalid request", [{"loc": ["query", "exclude"], "msg": problem, "type": "value_error"}]
    )
