"""One APIRouter per resource; `ROUTERS` is the order they are mounted in.

Routes are matched in that order, a few µs per route tried, so the hot ones (/recommend/*,
/movie/{id}) come first; no two routers share a path, so the order changes nothing else."""

from service.routes import (
    admin,
    clusters,
    health,
    many_users,
    models,
    movies,
    ratings,
    recommend,
    root,
    session,
    users,
)

ROUTERS = [
    recommend.router,
    session.router,
    many_users.router,
    movies.router,
    root.router,
    users.router,
    clusters.router,
    models.router,
    ratings.router,
    admin.router,
    health.router,
]
