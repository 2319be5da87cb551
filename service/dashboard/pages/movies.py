"""`/dashboard/movies?search=` and `/dashboard/movies/{id}`: find a movie, see it and its neighbours."""

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from service.dashboard.errors import page_router
from service.dashboard.templating import render
from service.dependencies import movie_or_404, pool_of
from service.queries.movies import search_movies
from service.recommenders import DEFAULT_MOVIE_STRATEGY, MOVIE_STRATEGIES, ListRequest
from service.schemas.common import MovieIdPath, Text

router = page_router("/dashboard/movies")

PAGE_SIZE = 20
SIMILAR = 10

# What each strategy means, for people (the API's `strategy` parameter documents the same).
MOVIE_STRATEGY_NOTES = {
    "ease": "the item model (EASE): what liking this movie predicts (the default)",
    "co_liked": "liked by the same users",
    "neighbours": "nearest in the same cluster by the clustering features",
    "random": "the team's original random sample from the cluster (a fresh one per visit)",
}


@router.get("", response_class=HTMLResponse)
def movies(
    request: Request,
    search: Annotated[Text | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=50_000)] = 1,
) -> HTMLResponse:
    """Search by title (partial, case-insensitive); most rated first."""
    search = (search or "").strip() or None
    with pool_of(request).connection() as conn:
        total, found = search_movies(
            conn, search=search, genre=None, cluster=None, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
    return render(
        request,
        "movies.html",
        section="movies",
        search=search or "",
        movies=found,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        offset=(page - 1) * PAGE_SIZE,
    )


@router.get("/{movie_id}", response_class=HTMLResponse)
def movie(request: Request, movie_id: MovieIdPath) -> HTMLResponse:
    """A movie: year, genres, rating stats, cluster, whether it is hidden from recommendations (an
    admin toggles it through PATCH /movies/{id}, static/movie.js), similar movies per strategy."""
    with pool_of(request).connection() as conn:
        found = movie_or_404(conn, movie_id)
        similar = {}
        if found.version is not None:
            page = ListRequest(SIMILAR, 0, None, found.version)
            for name, strategy in MOVIE_STRATEGIES.items():
                similar[name] = strategy(conn, found.movie_id, found.cluster, page)
    return render(
        request,
        "movie.html",
        section="movies",
        movie=found,
        similar=similar,
        default_strategy=DEFAULT_MOVIE_STRATEGY,
        notes=MOVIE_STRATEGY_NOTES,
        token_configured=bool(request.app.state.settings.admin_token),
    )
