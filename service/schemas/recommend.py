"""Recommendations: the original `{movieId, title}` items plus genres, cluster, score, reason."""

import json
from typing import Annotated, Any

from fastapi import Response
from pydantic import ConfigDict, Field, model_validator

from service.recommenders.types import Recommendation
from service.schemas.common import INT4_MAX, ApiModel, StrictIn
from service.schemas.movies import join_genres
from service.schemas.ratings import MAX_TIMESTAMP


class RecommendationOut(ApiModel):
    movieId: int = Field(examples=[2571])
    title: str = Field(examples=["Matrix, The (1999)"])
    genres: str = Field(examples=["Action|Sci-Fi|Thriller"])
    cluster: int | None = Field(examples=[3])
    score: float | None = Field(description="Higher is better; null for random picks.", examples=[0.83])
    reason: str = Field(examples=["popular in cluster 3, 41% of your taste"])


def items_json(recs: list[Recommendation]) -> list[dict[str, Any]]:
    """Recommendations as RecommendationOut's JSON objects, built here rather than by FastAPI."""
    return [
        {
            "movieId": r.movie_id,
            "title": r.title,
            "genres": join_genres(r.genres),
            "cluster": r.cluster,
            "score": r.score,
            "reason": r.reason,
        }
        for r in recs
    ]


def json_response(content: Any) -> Response:
    body = json.dumps(
        content, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    )  # compact, as FastAPI
    return Response(body, media_type="application/json")


def recommendations_response(recs: list[Recommendation]) -> Response:
    """A recommendations answer: RecommendationOut's fields, rendered here rather than by FastAPI.

    The routes declare `response_model=list[RecommendationOut]` for the schema and return this
    Response, which FastAPI passes through: validating the items it built itself against the
    model and serialising them cost 30 µs, 8% of a stored /recommend/user page (measured in
    process, benchmarks/api_cost.py). The fuzz test checks every answer against the schema.
    """
    return json_response(items_json(recs))


class ClusterAffinityOut(ApiModel):
    cluster: int = Field(examples=[3])
    ratingCount: int = Field(description="Movies the user rated in this cluster.", examples=[120])
    likedCount: int = Field(description="...of which rated 4.0 or more.", examples=[70])
    affinity: float = Field(
        description="Share of the user's rating weight (liked count more).", examples=[0.41]
    )


class FavoriteClusterOut(ApiModel):
    userId: int = Field(examples=[1])
    favoriteCluster: int = Field(
        description="Cluster with the most rated movies (the team's rule).", examples=[3]
    )
    topAffinityCluster: int = Field(description="Cluster with the highest affinity.", examples=[3])
    modelVersion: int = Field(examples=[1])
    clusters: list[ClusterAffinityOut]


MAX_BASKET = 500


class BasketRatingIn(StrictIn):
    movieId: int = Field(ge=1, le=INT4_MAX, examples=[2571])
    rating: float = Field(
        ge=0.5, le=5.0, multiple_of=0.5, description="0.5 to 5.0 in steps of 0.5.", examples=[4.5]
    )
    timestamp: int | None = Field(
        default=None, ge=0, le=MAX_TIMESTAMP, description="Unix seconds; default now.", examples=[1700000000]
    )


class SessionIn(StrictIn):
    """A visitor's session: movie ids (all liked, the last the newest) or rated movies; not both."""

    model_config = ConfigDict(populate_by_name=True, strict=True, extra="forbid")

    movieIds: list[Annotated[int, Field(ge=1, le=INT4_MAX)]] | None = Field(
        default=None,
        max_length=MAX_BASKET,
        description=f"Movies of the session or basket, oldest first; at most {MAX_BASKET}.",
        examples=[[1, 260, 2571]],
    )
    ratings: list[BasketRatingIn] | None = Field(
        default=None,
        max_length=MAX_BASKET,
        description=f"Instead of movieIds: rated movies (liked = 4 stars or more, or at least their"
        f" mean), at most {MAX_BASKET}.",
    )

    @model_validator(mode="after")
    def _one_of(self) -> "SessionIn":
        if self.movieIds is not None and self.ratings is not None:
            raise ValueError("give movieIds or ratings, not both")
        return self


MAX_USERS = 1000


class UsersIn(StrictIn):
    model_config = ConfigDict(populate_by_name=True, strict=True, extra="forbid")

    userIds: list[Annotated[int, Field(ge=1, le=INT4_MAX)]] = Field(
        max_length=MAX_USERS,
        description=f"Users to answer for, at most {MAX_USERS}; a repeated id is answered once.",
        examples=[[1, 2, 999999]],
    )


class UsersRecommendationsOut(ApiModel):
    users: dict[str, list[RecommendationOut]] = Field(
        description="Per user with ratings (the id as a JSON key, in request order): what"
        " GET /recommend/user/{id} answers with the same n, genre and exclude."
    )
    unknown: list[int] = Field(
        description="Requested users with no ratings, in request order.", examples=[[999999]]
    )
