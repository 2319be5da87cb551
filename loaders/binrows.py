"""Plain MovieLens rating lines -> PostgreSQL binary COPY rows, with numpy, block by block.

The ratings table stores `ts` as timestamptz while the files carry epoch seconds, so a CSV
COPY cannot go straight into it; staging it and moving it with INSERT ... SELECT writes the
25M rows twice (and WAL per row). Converting here lets one binary COPY (multi-insert, page
WAL) fill `ratings` directly while the server works in parallel on the other core.

Deliberately narrow: only lines of the form `digits,digits,D.D,digits` with a rating on the
star grid are accepted (MovieLens' own files and pandas' to_csv output). Anything else, a
quote, a sign, a space, a missing field, `\\r`, `4.25`, a 10-digit id, returns None and the
caller takes the general path (staging, reasons, line numbers), which has the last word.
"""

import numpy as np

# One binary COPY tuple: field count, then (length, big-endian value) per column.
ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("user_len", ">i4"),
        ("user_id", ">i4"),
        ("movie_len", ">i4"),
        ("movie_id", ">i4"),
        ("rating_len", ">i4"),
        ("rating", ">f4"),
        ("ts_len", ">i4"),
        ("ts", ">i8"),  # timestamptz: microseconds since 2000-01-01 UTC
    ]
)
HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
TRAILER = b"\xff\xff"
_PG_EPOCH = 946_684_800  # 2000-01-01 in Unix seconds
_COMMA, _NEWLINE, _DOT, _ZERO = 44, 10, 46, np.uint8(48)
_MAX_ID_DIGITS = 9  # as the general path's rule: fits an integer column
_MAX_TS_DIGITS = 12


def encode(block: bytes) -> bytes | None:
    """Binary COPY tuples for whole lines in `block` (ends with a line break); None if not plain."""
    if not block:
        return b""
    data = np.frombuffer(block, np.uint8)
    separators = np.flatnonzero((data == _COMMA) | (data == _NEWLINE))
    if separators.size % 4:
        return None
    ends = separators.reshape(-1, 4)  # per line: the byte after each field
    kinds = data[ends]
    if not ((kinds[:, :3] == _COMMA).all() and (kinds[:, 3] == _NEWLINE).all()):
        return None
    starts = np.empty_like(separators)
    starts[0] = 0
    starts[1:] = separators[:-1] + 1
    lengths = (separators - starts).reshape(-1, 4)
    if lengths.min() == 0 or lengths[:, :2].max() > _MAX_ID_DIGITS or lengths[:, 3].max() > _MAX_TS_DIGITS:
        return None
    user = _integers(data, ends[:, 0], lengths[:, 0])
    movie = _integers(data, ends[:, 1], lengths[:, 1])
    ts = _integers(data, ends[:, 3], lengths[:, 3])
    halves = _half_stars(data, ends[:, 2], lengths[:, 2])
    if user is None or movie is None or ts is None or halves is None:
        return None
    rows = np.empty(len(user), ROW)
    rows["fields"] = 4
    rows["user_len"] = rows["movie_len"] = rows["rating_len"] = 4
    rows["ts_len"] = 8
    rows["user_id"] = user
    rows["movie_id"] = movie
    rows["rating"] = halves / 2  # exact in float4
    rows["ts"] = (ts - _PG_EPOCH) * 1_000_000
    return rows.tobytes()


def _integers(data: np.ndarray, ends: np.ndarray, lengths: np.ndarray) -> np.ndarray | None:
    """Unsigned decimal fields ending at `ends`: a right-aligned digit matrix times powers of 10."""
    width = int(lengths.max())
    columns = np.arange(width)
    digits = data[np.maximum(ends[:, None] - width + columns, 0)] - _ZERO  # uint8: '.' wraps to 254
    inside = columns >= (width - lengths)[:, None]
    digits *= inside
    if (digits > 9).any():
        return None
    return digits.astype(np.int64) @ (10 ** np.arange(width - 1, -1, -1, dtype=np.int64))


def _half_stars(data: np.ndarray, ends: np.ndarray, lengths: np.ndarray) -> np.ndarray | None:
    """Ratings written `D.D` on the 0.5 grid within 0.5..5.0, as a count of half stars."""
    if (lengths != 3).any() or (data[ends - 2] != _DOT).any():
        return None
    whole = data[ends - 3] - _ZERO
    tenth = data[ends - 1] - _ZERO
    if (whole > 9).any() or ((tenth != 0) & (tenth != 5)).any():
        return None
    halves = whole.astype(np.int16) * 2 + (tenth == 5)
    if halves.min() < 1 or halves.max() > 10:
        return None
    return halves
