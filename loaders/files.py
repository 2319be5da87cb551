"""Which files a load reads, and what their headers must hold.

A directory may hold the raw MovieLens layout (movies.csv, ratings.csv, tags.csv, links.csv)
or the data team's cleaned_*.csv files; explicit --movies/--ratings/... paths override both.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cinecluster.errors import UserError

Kind = Literal["movies", "links", "ratings", "tags"]
KINDS: tuple[Kind, ...] = ("movies", "links", "ratings", "tags")  # load order: movies first

# header name (lower-cased) -> staging column name
COLUMN_NAMES = {
    "movieid": "movie_id",
    "userid": "user_id",
    "title": "title",
    "genres": "genres",
    "rating": "rating",
    "timestamp": "ts",
    "tag": "tag",
    "imdbid": "imdb_id",
    "tmdbid": "tmdb_id",
}


@dataclass(frozen=True)
class FileSpec:
    required: tuple[str, ...]  # header names that must be present
    optional: tuple[str, ...] = ()  # header names used when present


SPECS: dict[Kind, FileSpec] = {
    "movies": FileSpec(("movieId", "title", "genres")),
    "links": FileSpec(("movieId", "imdbId", "tmdbId")),
    "ratings": FileSpec(("userId", "movieId", "rating", "timestamp")),
    # the team's cleaned tags file holds only movieId,tag
    "tags": FileSpec(("movieId", "tag"), ("userId", "timestamp")),
}


@dataclass(frozen=True)
class SourceFile:
    kind: Kind
    path: Path
    header: tuple[str, ...]  # the header as written in the file
    columns: tuple[str, ...]  # staging column per header field (x<i> for ignored fields)

    @property
    def used(self) -> frozenset[str]:
        """Staging columns the load reads (known names present in this file)."""
        return frozenset(c for c in self.columns if not c.startswith("x"))


def locate(directory: Path | None, explicit: dict[Kind, Path | None]) -> dict[Kind, Path]:
    """The files of one load: explicit paths first, then movies.csv or cleaned_movies.csv in DIR."""
    found: dict[Kind, Path] = {kind: path for kind, path in explicit.items() if path is not None}
    if directory is not None:
        if not directory.is_dir():
            raise UserError(f"{directory}: not a directory")
        for kind in KINDS:
            if kind in found:
                continue
            for name in (f"{kind}.csv", f"cleaned_{kind}.csv"):
                if (directory / name).is_file():
                    found[kind] = directory / name
                    break
    if not found:
        where = f" in {directory}" if directory else ""
        raise UserError(
            f"no input files{where}: expected movies.csv, ratings.csv, tags.csv, links.csv "
            "or cleaned_movies.csv, cleaned_ratings.csv, cleaned_tags.csv"
        )
    for path in found.values():
        if not path.is_file():
            raise UserError(f"{path}: file not found")
    return {kind: found[kind] for kind in KINDS if kind in found}


def read_header(kind: Kind, path: Path) -> SourceFile:
    """Check the first line against the kind's expected columns; a bad header is a UserError."""
    with path.open("rb") as stream:
        first = stream.readline(64 * 1024)
    if not first.strip():
        raise UserError(f"{path}: line 1: missing header (expected {','.join(SPECS[kind].required)})")
    try:
        line = first.decode("utf-8").removeprefix("\ufeff").rstrip("\r\n")
    except UnicodeDecodeError:
        raise UserError(f"{path}: line 1: invalid UTF-8 in header") from None
    header = tuple(name.strip().strip('"').strip() for name in line.split(","))
    spec = SPECS[kind]
    lowered = [name.lower() for name in header]
    missing = [name for name in spec.required if name.lower() not in lowered]
    if missing:
        expected = ",".join(spec.required)
        raise UserError(
            f"{path}: line 1: wrong header {line[:80]!r}: expected {expected} (missing {', '.join(missing)})"
        )
    if len(set(lowered)) != len(lowered):
        raise UserError(f"{path}: line 1: duplicate column in header {line[:80]!r}")
    known = {name.lower() for name in (*spec.required, *spec.optional)}
    columns = tuple(
        COLUMN_NAMES[name] if name in known else f"x{index}" for index, name in enumerate(lowered)
    )
    return SourceFile(kind, path, header, columns)
