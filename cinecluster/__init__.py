"""cinecluster: MovieLens movie clusters and recommendations served from PostgreSQL."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cinecluster")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
