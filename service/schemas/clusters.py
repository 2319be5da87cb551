"""Cluster analytics."""

from pydantic import Field

from service.schemas.common import ApiModel
from service.schemas.movies import MovieOut


class GenreShare(ApiModel):
    genre: str = Field(examples=["Drama"])
    movies: int = Field(examples=[812])
    share: float = Field(description="Fraction of the cluster's movies with this genre.", examples=[0.46])


class TopMovie(ApiModel):
    movieId: int = Field(examples=[318])
    title: str = Field(examples=["Shawshank Redemption, The (1994)"])
    avgRating: float | None = Field(examples=[4.43])
    ratingCount: int = Field(examples=[317])


class ClusterOut(ApiModel):
    cluster: int = Field(examples=[3])
    size: int = Field(description="Movies in the cluster now (new movies included).", examples=[1760])
    avgRating: float | None = Field(description="Rating-weighted mean stars.", examples=[3.61])
    ratingCount: int = Field(examples=[40213])
    topGenres: list[GenreShare] = Field(description="Top 5 genres with shares.")
    topMovies: list[TopMovie] = Field(description="Top 5 by the ranking score (popularity + rating).")


class ClusterList(ApiModel):
    modelVersion: int = Field(examples=[1])
    clusters: list[ClusterOut]


class ClusterMoviePage(ApiModel):
    cluster: int = Field(examples=[3])
    total: int = Field(examples=[1760])
    limit: int = Field(examples=[20])
    offset: int = Field(examples=[0])
    sort: str = Field(examples=["popularity"])
    items: list[MovieOut]
