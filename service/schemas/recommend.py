"""Recommendations: the original `{movieId, title}` items plus genres, cluster, score, reason."""

import json

from fastapi import Response
from pydantic import Field

from service.recommenders.types import Recommendation
from service.schemas.common import ApiModel
from service.schemas.movies import join_genres


class RecommendationOut(ApiModel):
    movieId: int = Field(examples=[2571])
    title: str = Field(examples=["Matrix, The (1999)"])
    genres: str = Field(examples=["Action|Sci-Fi|Thriller"])
    cluster: int | None = Field(examples=[3])
    score: float | None = Field(description="Higher is better; null for random picks.", examples=[0.83])
    reason: str = Field(examples=["popular in cluster 3, 41% of your taste"])


def recommendations_response(recs: list[Recommendation]) -> Response:
    """A recommendations answer: RecommendationOut's fields, rendered here rather than by FastAPI.

    The routes declare `response_model=list[RecommendationOut]` for the schema and return this
    Response, which FastAPI passes through: validating the items it built itself against the
    model and serialising them cost 30 µs, 8% of a stored /recommend/user page (measured in
    process, benchmarks/api_cost.py). The fuzz test checks every answer against the schema.
    """
    items = [
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
    body = json.dumps(
        items, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    )  # compact, as FastAPI
    return Response(body, media_type="application/json")


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
