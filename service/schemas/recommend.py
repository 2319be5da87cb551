"""Recommendations: the original `{movieId, title}` items plus genres, cluster, score, reason."""

from typing import Any

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


Items = list[dict[str, Any]]


def recommendation_items(recs: list[Recommendation]) -> Items:
    """The body of a recommendations answer: RecommendationOut's fields as plain dicts, which
    FastAPI validates and serialises against the response model in pydantic's compiled core.
    Building the models in Python instead cost 4 µs an item (benchmarks/api_cost.py)."""
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
