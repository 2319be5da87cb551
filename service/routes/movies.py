"""Movies: the original `/movie/{id}`, title search, and adding a movie."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request
from sqlalchemy import Engine

from service.dependencies import DbDep, async_pool_of, require_admin
from service.errors import ApiError, not_found
from service.queries.movies import MovieRecord, aget_movie, get_movie, search_movies
from service.queries.writes import MovieExists, NoFreeMovieId, insert_movie, set_hidden
from service.recommenders.ranking import RANKINGS
from service.schemas.common import GenreQuery, Limit, MovieIdPath, Offset, Text, errors
from service.schemas.movies import MovieIn, MovieOut, MoviePage, MoviePatch, join_genres

router = APIRouter(tags=["movies"])


def movie_out(m: MovieRecord) -> MovieOut:
    return MovieOut(
        movieId=m.movie_id,
        title=m.title,
        genres=join_genres(m.genres),
        cluster=m.cluster,
        year=m.year,
        avgRating=round(m.avg_rating, 4) if m.avg_rating is not None else None,
        ratingCount=m.rating_count,
        genreList=m.genres,
        hidden=m.hidden,
    )


@router.get("/movie/{movie_id}", response_model=MovieOut, responses=errors(404, 422, 503))
async def get_movie_by_id(movie_id: MovieIdPath, request: Request) -> MovieOut:
    """One movie: the original fields (movieId, title, genres, cluster) plus year and rating stats."""
    async with async_pool_of(request).connection() as conn:
        movie = await aget_movie(conn, movie_id)
    if movie is None:
        raise not_found("Movie")
    return movie_out(movie)


@router.get("/movies", response_model=MoviePage, responses=errors(422, 503))
def find_movies(
    db: DbDep,
    search: Annotated[
        Text | None, Query(description="Case-insensitive title substring.", examples=["matrix"])
    ] = None,
    genre: GenreQuery = None,
    cluster: Annotated[int | None, Query(ge=0, le=32767, description="Cluster in the active model.")] = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> MoviePage:
    """Find movies by title, genre and cluster; most rated first."""
    with db.connection() as conn:
        total, found = search_movies(
            conn, search=search, genre=genre, cluster=cluster, limit=limit, offset=offset
        )
    return MoviePage(total=total, limit=limit, offset=offset, items=[movie_out(m) for m in found])


@router.post(
    "/movies",
    status_code=201,
    response_model=MovieOut,
    dependencies=[Depends(require_admin)],
    responses=errors(400, 401, 403, 409, 422, 503),
)
def add_movie(body: MovieIn, db: DbDep, request: Request) -> MovieOut:
    """Add a movie (admin); it is placed on the nearest centroid at once, so it can be recommended."""
    engine: Engine = request.app.state.db.write_engine()
    try:
        with engine.begin() as conn:
            movie_id = insert_movie(conn, body.movieId, body.title, body.genres)
    except MovieExists:
        raise ApiError(409, "Movie already exists", {"movieId": body.movieId}) from None
    except NoFreeMovieId:
        raise ApiError(409, "No movie id left above the highest one; give movieId") from None
    RANKINGS.invalidate()
    with db.connection() as conn:
        movie = get_movie(conn, movie_id)
    assert movie is not None
    return movie_out(movie)


@router.patch(
    "/movies/{movie_id}",
    response_model=MovieOut,
    dependencies=[Depends(require_admin)],
    responses=errors(400, 401, 403, 404, 422, 503),
)
def update_movie(
    movie_id: MovieIdPath,
    body: Annotated[
        MoviePatch,
        Body(
            openapi_examples={
                "hide": {"summary": "Never recommend it", "value": {"hidden": True}},
                "show": {"summary": "Recommend it again", "value": {"hidden": False}},
            }
        ),
    ],
    db: DbDep,
) -> MovieOut:
    """Hide a movie from every recommendation, or show it again (admin); its ratings still count."""
    with db.connection() as conn:
        if not set_hidden(conn, movie_id, body.hidden):  # one statement: autocommitted
            raise not_found("Movie")
        movie = get_movie(conn, movie_id)
    assert movie is not None
    return movie_out(movie)
