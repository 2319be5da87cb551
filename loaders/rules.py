"""Row-level cleaning rules, as SQL over a staging table of text columns.

Each kind has one CASE expression that names why a staged row cannot be loaded (NULL = the
row is good). Reasons in DROPPED are the original pipeline's silent cleaning (dropna); every
other reason is a rejection that the summary reports and --strict turns into a failure.
"""

from loaders.files import Kind

MISSING = "missing field"
DUPLICATE = "duplicate"
EMPTY_TAG = "empty tag"
DROPPED = frozenset({MISSING, DUPLICATE, EMPTY_TAG})

NON_NUMERIC_ID = "non-numeric id"
NON_NUMERIC_RATING = "non-numeric rating"
NON_NUMERIC_TS = "non-numeric timestamp"
OUT_OF_RANGE = "rating outside 0.5..5.0"
OFF_GRID = "rating off the 0.5 grid"
UNKNOWN_MOVIE = "unknown movie"

ID = "'^[0-9]{1,9}$'"  # fits an integer column; a sign, a space or a letter is not an id
TIMESTAMP = "'^[0-9]{1,12}$'"  # Unix seconds
NUMBER = r"'^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$'"
KNOWN_MOVIE = "movie_id::int IN (SELECT movie_id FROM movies)"  # a hashed subplan: one probe per row


# Staging column types for the fast path: COPY itself parses the numbers. A file with a value
# that does not parse is staged again as text, where the regular expressions name the rows.
TYPED = {"user_id": "int", "movie_id": "int", "rating": "float8", "ts": "bigint", "tmdb_id": "int"}


def _missing(*columns: str) -> str:
    return " OR ".join(f"NULLIF(btrim({column}::text), '') IS NULL" for column in columns)


def reason_sql(kind: Kind, used: frozenset[str], typed: bool = False) -> str:
    """The CASE expression naming why a staged row of `kind` is dropped or rejected."""
    if typed:
        return _typed_reason_sql(kind, used)
    if kind == "movies":
        return f"""CASE
            WHEN {_missing("movie_id", "title", "genres")} THEN '{MISSING}'
            WHEN movie_id !~ {ID} THEN '{NON_NUMERIC_ID}'
        END"""
    if kind == "links":
        return f"""CASE
            WHEN {_missing("movie_id")} THEN '{MISSING}'
            WHEN movie_id !~ {ID} OR imdb_id !~ '^[0-9]+$' OR tmdb_id !~ {ID} THEN '{NON_NUMERIC_ID}'
            WHEN NOT {KNOWN_MOVIE} THEN '{UNKNOWN_MOVIE}'
        END"""
    if kind == "ratings":
        return f"""CASE
            WHEN {_missing("user_id", "movie_id", "rating", "ts")} THEN '{MISSING}'
            WHEN user_id !~ {ID} OR movie_id !~ {ID} THEN '{NON_NUMERIC_ID}'
            WHEN rating !~ {NUMBER} THEN '{NON_NUMERIC_RATING}'
            WHEN ts !~ {TIMESTAMP} THEN '{NON_NUMERIC_TS}'
            WHEN rating::float8 NOT BETWEEN 0.5 AND 5.0 THEN '{OUT_OF_RANGE}'
            WHEN rating::float8 * 2 <> round(rating::float8 * 2) THEN '{OFF_GRID}'
            WHEN NOT {KNOWN_MOVIE} THEN '{UNKNOWN_MOVIE}'
        END"""
    # tags: user_id and timestamp only when the file has them (the team's file has movieId,tag)
    optional = [column for column in ("user_id", "ts") if column in used]
    user_check = f"OR user_id !~ {ID}" if "user_id" in used else ""
    ts_check = f"WHEN ts !~ {TIMESTAMP} THEN '{NON_NUMERIC_TS}'" if "ts" in used else ""
    return f"""CASE
        WHEN {_missing("movie_id", "tag", *optional)} THEN '{MISSING}'
        WHEN movie_id !~ {ID} {user_check} THEN '{NON_NUMERIC_ID}'
        {ts_check}
        WHEN NOT {KNOWN_MOVIE} THEN '{UNKNOWN_MOVIE}'
        WHEN btrim(replace(tag, '|', '')) = '' THEN '{EMPTY_TAG}'
    END"""


def _typed_reason_sql(kind: Kind, used: frozenset[str]) -> str:
    """The same rules over typed staging columns: numbers already parsed, only signs to check."""
    if kind == "ratings":
        return f"""CASE
            WHEN user_id IS NULL OR movie_id IS NULL OR rating IS NULL OR ts IS NULL THEN '{MISSING}'
            WHEN user_id < 0 OR movie_id < 0 THEN '{NON_NUMERIC_ID}'
            WHEN ts < 0 THEN '{NON_NUMERIC_TS}'
            WHEN NOT rating BETWEEN 0.5 AND 5.0 THEN '{OUT_OF_RANGE}'
            WHEN rating * 2 <> round(rating * 2) THEN '{OFF_GRID}'
            WHEN NOT {KNOWN_MOVIE} THEN '{UNKNOWN_MOVIE}'
        END"""
    if kind == "movies":
        return f"""CASE
            WHEN movie_id IS NULL OR {_missing("title", "genres")} THEN '{MISSING}'
            WHEN movie_id < 0 THEN '{NON_NUMERIC_ID}'
        END"""
    if kind == "links":
        return f"""CASE
            WHEN movie_id IS NULL THEN '{MISSING}'
            WHEN movie_id < 0 OR imdb_id !~ '^[0-9]+$' OR tmdb_id < 0 THEN '{NON_NUMERIC_ID}'
            WHEN NOT {KNOWN_MOVIE} THEN '{UNKNOWN_MOVIE}'
        END"""
    missing = " OR ".join(f"{column} IS NULL" for column in ("movie_id", "user_id", "ts") if column in used)
    user_check = "OR user_id < 0" if "user_id" in used else ""
    ts_check = f"WHEN ts < 0 THEN '{NON_NUMERIC_TS}'" if "ts" in used else ""
    return f"""CASE
        WHEN {missing} OR {_missing("tag")} THEN '{MISSING}'
        WHEN movie_id < 0 {user_check} THEN '{NON_NUMERIC_ID}'
        {ts_check}
        WHEN NOT {KNOWN_MOVIE} THEN '{UNKNOWN_MOVIE}'
        WHEN btrim(replace(tag, '|', '')) = '' THEN '{EMPTY_TAG}'
    END"""
