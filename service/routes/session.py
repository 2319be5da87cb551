"""POST /recommend/session: recommendations for a visitor without an account, from a basket."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from service.dependencies import DbDep, require_version
from service.errors import ApiError
from service.recommenders import ListRequest, session
from service.schemas.common import GenreQuery, errors
from service.schemas.list_query import ExcludeQuery, N, RecOffset, parse_exclude
from service.schemas.recommend import RecommendationOut, SessionIn, recommendations_response

router = APIRouter(prefix="/recommend", tags=["recommendations"])

EXAMPLES: dict[str, Any] = {
    "basket": {
        "summary": "Movie ids, oldest first (all liked)",
        "value": {"movieIds": [1, 260, 2571]},
    },
    "ratings": {
        "summary": "Rated movies, with or without times",
        "value": {
            "ratings": [
                {"movieId": 2571, "rating": 5.0, "timestamp": 1700000000},
                {"movieId": 1, "rating": 2.0, "timestamp": 1700000100},
            ]
        },
    },
    "empty": {"summary": "An empty basket: the most rated movies", "value": {"movieIds": []}},
}
SessionBody = Annotated[SessionIn, Body(openapi_examples=EXAMPLES)]


@router.post(
    "/session",
    response_model=list[RecommendationOut],
    responses=errors(400, 404, 422, 503),
)
def recommend_for_session(
    body: SessionBody,
    db: DbDep,
    n: N = 5,
    offset: RecOffset = 0,
    genre: GenreQuery = None,
    exclude: ExcludeQuery = None,
) -> Response:
    """Movies for a session or basket (no account): the default ranking, never a basket movie;
    nothing is written. An empty basket gets the most rated movies."""
    skip = parse_exclude(exclude)
    if body.ratings is not None:
        basket = session.Basket.of_ratings([(r.movieId, r.rating, r.timestamp) for r in body.ratings])
    else:
        basket = session.Basket.of_movie_ids(body.movieIds or [])
    with db.connection() as conn:
        version, unknown = session.check(conn, basket)
        if unknown:
            raise ApiError(404, "Movie not found", {"movieIds": unknown[:20], "count": len(unknown)})
        recs = session.recommend(
            conn, basket, ListRequest(n, offset, genre, require_version(version), exclude=skip)
        )
    return recommendations_response(recs)
