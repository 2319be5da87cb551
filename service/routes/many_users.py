"""POST /recommend/users: the default ranking's first page for up to 1,000 users in one call."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from service.dependencies import DbDep, require_version
from service.recommenders.batch import recommend_many
from service.schemas.common import GenreQuery, errors
from service.schemas.list_query import ExcludeQuery, N, parse_exclude
from service.schemas.recommend import UsersIn, UsersRecommendationsOut, items_json, json_response

router = APIRouter(prefix="/recommend", tags=["recommendations"])

EXAMPLES: dict[str, Any] = {
    "users": {"summary": "Three users, one without ratings", "value": {"userIds": [1, 2, 999999]}},
}


@router.post("/users", response_model=UsersRecommendationsOut, responses=errors(400, 422, 503))
def recommend_for_users(
    body: Annotated[UsersIn, Body(openapi_examples=EXAMPLES)],
    db: DbDep,
    n: N = 5,
    genre: GenreQuery = None,
    exclude: ExcludeQuery = None,
) -> Response:
    """Movies for many users at once (batch jobs): each list as GET /recommend/user/{id} answers
    it; users with no ratings are listed under `unknown`."""
    skip = parse_exclude(exclude)
    with db.connection() as conn:
        lists = recommend_many(conn, body.userIds, n=n, genre=genre, exclude=skip)
    require_version(lists.version)
    users = {str(user): items_json(recs) for user, recs in lists.users.items()}
    return json_response({"users": users, "unknown": lists.unknown})
