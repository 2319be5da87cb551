"""Binary COPY from numpy columns: millions of rows without a Python loop per row.

A column is (PostgreSQL type, values): a numpy array for a scalar column, or a `Ragged` for a
one-dimensional array column (e.g. a user's recommended movie ids). Tables with array columns
have one row per user, so a short loop per row is fine there; scalar-only tables stay loop-free.
"""

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import psycopg
from sqlalchemy import Connection

from cinecluster.db import raw_connection

_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_TRAILER = (-1).to_bytes(2, "big", signed=True)

# PostgreSQL type -> big-endian numpy type of its binary wire format.
WIRE_TYPES = {"int2": ">i2", "int4": ">i4", "int8": ">i8", "float4": ">f4", "float8": ">f8"}
ELEMENT_OIDS = {"int2": 21, "int4": 23, "int8": 20, "float4": 700, "float8": 701}


@dataclass(frozen=True)
class Ragged:
    """One 1-D array per row, without NULLs: row i is values[offsets[i]:offsets[i + 1]]."""

    values: np.ndarray
    offsets: np.ndarray  # rows + 1 entries, starting at 0

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, rows: slice) -> "Ragged":
        start, stop, _ = rows.indices(len(self))
        offsets = self.offsets[start : stop + 1]
        return Ragged(self.values[offsets[0] : offsets[-1]], offsets - offsets[0])


Column = tuple[str, "np.ndarray | Ragged"]


def encode_rows(columns: Sequence[Column]) -> bytes:
    """COPY BINARY payload for equally long columns; each column is (postgres type, values)."""
    if any(isinstance(values, Ragged) for _, values in columns):
        return _HEADER + _encode_with_arrays(columns) + _TRAILER
    n = len(columns[0][1])
    fields: list[tuple[str, str]] = [("nfields", ">i2")]
    for i, (pg_type, _) in enumerate(columns):
        fields += [(f"len{i}", ">i4"), (f"val{i}", WIRE_TYPES[pg_type])]
    rows = np.empty(n, dtype=np.dtype(fields))  # packed: exactly the wire layout
    rows["nfields"] = len(columns)
    for i, (pg_type, values) in enumerate(columns):
        if len(values) != n:
            raise ValueError("columns differ in length")
        rows[f"len{i}"] = np.dtype(WIRE_TYPES[pg_type]).itemsize
        rows[f"val{i}"] = values
    return _HEADER + rows.tobytes() + _TRAILER


def _encode_with_arrays(columns: Sequence[Column]) -> bytes:
    """Rows with array columns: each field pre-encoded in one numpy call, joined row by row."""
    n = len(columns[0][1])
    encoded: list[tuple[bytes, np.ndarray]] = []  # per column: payload bytes, row offsets in it
    for pg_type, values in columns:
        if len(values) != n:
            raise ValueError("columns differ in length")
        wire = np.dtype(WIRE_TYPES[pg_type])
        record = np.dtype([("len", ">i4"), ("val", wire)])
        if isinstance(values, Ragged):
            elements = np.empty(len(values.values), dtype=record)
            elements["len"], elements["val"] = wire.itemsize, values.values
            encoded.append((elements.tobytes(), values.offsets * record.itemsize))
        else:
            fields = np.empty(n, dtype=record)
            fields["len"], fields["val"] = wire.itemsize, values
            encoded.append((fields.tobytes(), np.arange(n + 1) * record.itemsize))
    count = struct.pack(">h", len(columns))
    parts: list[bytes] = []
    for row in range(n):
        parts.append(count)
        for (pg_type, values), (payload, offsets) in zip(columns, encoded, strict=True):
            body = payload[offsets[row] : offsets[row + 1]]
            if isinstance(values, Ragged):  # field length, then ndim, flags, element type, size, lower bound
                length = int(values.offsets[row + 1] - values.offsets[row])
                parts.append(struct.pack(">6i", 20 + len(body), 1, 0, ELEMENT_OIDS[pg_type], length, 1))
            parts.append(body)
    return b"".join(parts)


def copy_columns(
    conn: Connection,
    table: str,
    names: Sequence[str],
    columns: Sequence[Column],
    chunk_rows: int = 500_000,
) -> int:
    """COPY the columns into `table` inside the connection's current transaction; returns rows."""
    return copy_with(raw_connection(conn), table, names, columns, chunk_rows)


def copy_with(
    pg_conn: psycopg.Connection,
    table: str,
    names: Sequence[str],
    columns: Sequence[Column],
    chunk_rows: int = 500_000,
) -> int:
    """copy_columns on a plain psycopg connection (a Spark executor's own, say)."""
    n = len(columns[0][1]) if columns else 0
    cursor = pg_conn.cursor()
    with cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT binary)") as copy:
        copy.write(_HEADER)
        for start in range(0, n, chunk_rows):
            part = [(t, v[start : start + chunk_rows]) for t, v in columns]
            # strip per-chunk header/trailer: one stream, one header
            copy.write(encode_rows(part)[len(_HEADER) : -len(_TRAILER)])
        copy.write(_TRAILER)
    return n
