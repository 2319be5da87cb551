"""`/dashboard/users` (open a user by id) and `/dashboard/users/{id}`: profile, clusters, lists."""

from typing import Annotated, Any

import psycopg
from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.dashboard.errors import page_router
from service.dashboard.templating import render
from service.dependencies import pool_of, require_version, user_or_404
from service.errors import ApiError
from service.queries.users import ClusterAffinity, cluster_affinities
from service.recommenders import DEFAULT_STRATEGY, STRATEGIES, ListRequest, cluster, ease
from service.routes.users import favourite_of
from service.schemas.common import INT4_MAX, UserIdPath

router = page_router("/dashboard/users")

RECOMMENDED = 10  # as /recommend/user/{id}?n=10
PROFILE_SHOWN = 60

USER_STRATEGY_NOTES = {
    "ease": "the item model (EASE): what this user's liked movies predict (the default)",
    "liked_neighbours": "liked by people who liked what this user liked",
    "cluster": "the best movies of the user's top clusters, boosted by their affinity",
    "random": "the team's original random sample from the favourite cluster (a fresh one per visit)",
}


def recommendation_lists(
    conn: psycopg.Connection, user_id: int, version: int, affinities: list[ClusterAffinity]
) -> list[dict[str, Any]]:
    """Each strategy's first page, and whether it is the list stored by the last recluster run
    (the default strategy while the user's ratings are unchanged) or was ranked live just now.
    The cluster strategy reuses the page's affinities rather than reading them again."""
    strategies = {**STRATEGIES, "cluster": cluster.with_affinities(affinities)}
    lists = []
    page = ListRequest(RECOMMENDED, 0, None, version)
    for name, strategy in strategies.items():
        items = ease.stored(conn, user_id, page) if name == DEFAULT_STRATEGY else None
        source = "stored" if items is not None else "live"
        if items is None:
            items = strategy(conn, user_id, page)
        lists.append({"name": name, "items": items, "source": source, "default": name == DEFAULT_STRATEGY})
    return lists


@router.get("", response_class=HTMLResponse)
def open_user(request: Request, user: Annotated[int | None, Query(ge=1, le=INT4_MAX)] = None) -> Response:
    """The form; with `?user=ID` it goes to that user's page."""
    if user is not None:
        return RedirectResponse(request.url_for("user_page", user_id=user), status_code=303)
    return render(request, "users.html", section="users")


@router.get("/{user_id}", response_class=HTMLResponse, name="user_page")
def user_page(request: Request, user_id: UserIdPath) -> HTMLResponse:
    """Liked movies, favourite cluster with affinities, recommendations per strategy."""
    with pool_of(request).connection() as conn:
        user = user_or_404(conn, user_id)
        version = require_version(user.version)
        affinities = cluster_affinities(conn, user.user_id, version)
        profile = ease.liked_profile(conn, user.user_id, version)
        lists = recommendation_lists(conn, user.user_id, version, affinities)
    try:
        favourite = favourite_of(user.user_id, version, affinities)  # the API's answer, field for field
    except ApiError as error:
        if error.status_code != 404:
            raise
        favourite = None  # every rated movie was added after the last run
    return render(
        request,
        "user.html",
        section="users",
        user_id=user.user_id,
        version=version,
        profile=profile[:PROFILE_SHOWN],
        profile_total=len(profile),
        favourite=favourite,
        lists=lists,
        notes=USER_STRATEGY_NOTES,
    )
