"""Movies: the original `/movie/{id}` shape plus year, rating stats and a genre list."""

from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from service.schemas.common import INT4_MAX, ApiModel, StrictIn

NO_GENRES = "(no genres listed)"


def join_genres(genres: list[str]) -> str:
    """The MovieLens `|`-joined string the original API returned."""
    return "|".join(genres) if genres else NO_GENRES


class MovieOut(ApiModel):
    movieId: int = Field(examples=[1])
    title: str = Field(examples=["Toy Story (1995)"])
    genres: str = Field(description="`|`-joined, as in MovieLens.", examples=["Adventure|Animation|Children"])
    cluster: int | None = Field(description="Cluster in the active model; null if none.", examples=[3])
    year: int | None = Field(default=None, examples=[1995])
    avgRating: float | None = Field(
        default=None, description="Mean stars at the last recluster run; null if unrated.", examples=[3.92]
    )
    ratingCount: int = Field(default=0, description="Ratings at the last recluster run.", examples=[215])
    genreList: list[str] = Field(default_factory=list, examples=[["Adventure", "Animation", "Children"]])
    hidden: bool = Field(
        default=False,
        description="Never recommended (PATCH /movies/{id}); its ratings still count in training.",
        examples=[False],
    )


class MoviePage(ApiModel):
    total: int = Field(description="Matching movies.", examples=[42])
    limit: int = Field(examples=[20])
    offset: int = Field(examples=[0])
    items: list[MovieOut]


# Not blank: at least one non-space character, said in the schema itself (a pattern, not
# strip-then-check) so that every schema-valid body is accepted. Stored stripped.
Title = Annotated[
    str, StringConstraints(min_length=1, max_length=500, pattern=r"^[^\x00]*[^\s\x00][^\x00]*$")
]
Genre = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00|]*[^\s\x00|][^\x00|]*$")
]


class MovieIn(StrictIn):
    """A new movie, in the original field names; genres as `A|B` or a list."""

    movieId: int | None = Field(default=None, ge=1, le=INT4_MAX, description="Default: the next free id.")
    title: Title = Field(examples=["Dune: Part Two (2024)"])
    genres: list[Genre] = Field(
        default_factory=list,
        description='`Action|Sci-Fi` or `["Action", "Sci-Fi"]`.',
        examples=["Action|Sci-Fi"],
    )

    @field_validator("genres", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            value = [] if value.strip() == NO_GENRES else [g for g in value.split("|") if g.strip()]
        return value

    @field_validator("genres")
    @classmethod
    def _dedupe(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(g.strip() or g for g in value))

    @field_validator("title")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip() or value


class MoviePatch(StrictIn):
    """What an admin may change of a movie: whether it is recommended."""

    model_config = ConfigDict(populate_by_name=True, strict=True, extra="forbid")

    hidden: bool = Field(
        description="true: never recommended by any route or strategy, stored lists included (at once,"
        " no recluster); its ratings still count in training and it keeps its own pages. false: shown again.",
        examples=[True],
    )
