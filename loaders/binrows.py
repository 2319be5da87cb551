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
from numpy.lib.stride_tricks import sliding_window_view

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
# Line breaks before the block, so that every field has a full window of bytes to its left.
_PAD = b"\n" * _MAX_TS_DIGITS
_template = np.empty(0, ROW)  # reused between blocks: the constant fields are written once


def _rows(count: int) -> np.ndarray:
    global _template
    if len(_template) < count:
        _template = np.empty(count, ROW)
        _template["fields"] = 4
        _template["user_len"] = _template["movie_len"] = _template["rating_len"] = 4
        _template["ts_len"] = 8
    return _template[:count]


def encode(block: bytes) -> bytes | None:
    """Binary COPY tuples for whole lines in `block` (ends with a line break); None if not plain."""
    if not block:
        return b""
    padded = np.frombuffer(_PAD + block, np.uint8)
    data = padded[len(_PAD) :]
    # ',' and '\n' are below '.' and the digits; any other byte below it (a space, a quote, a
    # sign, '\r') is counted too and breaks the 4-per-line pattern checked next
    separators = np.flatnonzero(data < _DOT)
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
    ends = ends + len(_PAD)  # positions in `padded` from here on
    user = _integers(padded, ends[:, 0], lengths[:, 0])
    movie = _integers(padded, ends[:, 1], lengths[:, 1])
    ts = _integers(padded, ends[:, 3], lengths[:, 3])
    halves = _half_stars(padded, ends[:, 2], lengths[:, 2])
    if user is None or movie is None or ts is None or halves is None:
        return None
    rows = _rows(len(user))
    rows["user_id"] = user
    rows["movie_id"] = movie
    rows["rating"] = halves / 2  # exact in float4
    rows["ts"] = (ts - _PG_EPOCH) * 1_000_000
    return rows.tobytes()


def _integers(data: np.ndarray, ends: np.ndarray, lengths: np.ndarray) -> np.ndarray | None:
    """Unsigned decimal fields ending at `ends`: a right-aligned digit matrix times powers of 10."""
    width = int(lengths.max())
    # the `width` bytes before each field end (a view's rows: no index matrix is built)
    digits = sliding_window_view(data, width)[ends - width] - _ZERO  # uint8: '.' wraps to 254
    digits *= np.arange(width) >= (width - lengths)[:, None]  # zero the bytes left of the field
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
