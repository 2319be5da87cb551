"""Users: the team's favourite cluster, with per-cluster counts and affinities."""

from fastapi import APIRouter

from service.dependencies import DbDep, require_version, user_or_404
from service.errors import ApiError
from service.queries.users import ClusterAffinity, cluster_affinities
from service.schemas.common import UserIdPath, errors
from service.schemas.recommend import ClusterAffinityOut, FavoriteClusterOut

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/{user_id}/favorite-cluster", response_model=FavoriteClusterOut, responses=errors(404, 422, 503))
def favorite_cluster(user_id: UserIdPath, db: DbDep) -> FavoriteClusterOut:
    """The cluster holding most of the user's rated movies (get_favorite_cluster), with affinities."""
    with db.connection() as conn:
        user = user_or_404(conn, user_id)
        version = require_version(user.version)
        affinities = cluster_affinities(conn, user.user_id, version)
    return favourite_of(user.user_id, version, affinities)


def favourite_of(user_id: int, version: int, affinities: list[ClusterAffinity]) -> FavoriteClusterOut:
    """The route's answer from the user's affinities (the dashboard has them already)."""
    if not affinities:  # every rated movie was added after the last run and is not placed
        raise ApiError(404, "User has no clustered ratings")
    favourite = min(affinities, key=lambda a: (-a.rated, a.cluster))
    return FavoriteClusterOut(
        userId=user_id,
        favoriteCluster=favourite.cluster,
        topAffinityCluster=affinities[0].cluster,
        modelVersion=version,
        clusters=[
            ClusterAffinityOut(
                cluster=a.cluster, ratingCount=a.rated, likedCount=a.liked, affinity=round(a.affinity, 6)
            )
            for a in sorted(affinities, key=lambda a: a.cluster)
        ],
    )
