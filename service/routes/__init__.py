"""One APIRouter per resource; `ROUTERS` is the order they are mounted in."""

from service.routes import admin, clusters, health, models, movies, ratings, recommend, root, users

ROUTERS = [
    root.router,
    movies.router,
    recommend.router,
    users.router,
    clusters.router,
    models.router,
    ratings.router,
    admin.router,
    health.router,
]
