"""PostgreSQL's binary COPY format, written from a DataFrame with numpy (no per-row Python).

Binary COPY skips both ``DataFrame.to_csv`` on our side and number parsing on the server's, the
two costliest steps of a text COPY. The format (PostgreSQL docs, "COPY … Binary Format"):

* header: the 11-byte signature ``PGCOPY\\n\\377\\r\\n\\0``, an int32 flags field (0) and an int32
  header-extension length (0);
* per row: an int16 field count, then per field an int32 byte length (-1 for NULL, with no data
  following) and the value in network byte order;
* trailer: an int16 -1.

Column types come from the frame's dtypes: ``int64``/``Int64`` → bigint, ``float64`` → double
precision (NaN → NULL), ``datetime64`` → date (int32 days since 2000-01-01; NaT → NULL), and
``object``/``string`` → text (None/NaN → NULL). Rows with the same NULL pattern have the same
layout, so within each chunk of ``CHUNK_ROWS`` rows each pattern becomes one numpy structured
array, its rows written together (a COPY into a staging table does not care about row order).
Text columns have no fixed width: frames holding them (metadata, a few hundred rows) are encoded
row by row instead.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
HEADER = SIGNATURE + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)
_PG_EPOCH = np.datetime64("2000-01-01", "D")
READ_SIZE = 1 << 20  # bytes per read() of ChunkReader by the driver during COPY
CHUNK_ROWS = 1 << 16  # rows encoded at a time: the payload is never held whole

Kind = Literal["int8", "float8", "date", "text"]
_FIXED: dict[str, tuple[str, int]] = {"int8": (">i8", 8), "float8": (">f8", 8), "date": (">i4", 4)}


@dataclass(frozen=True)
class _Column:
    kind: Kind
    values: np.ndarray  # native values (int64, float64, int32 days) or objects (text)
    null: np.ndarray  # bool, True where the value is NULL

    def rows(self, start: int, stop: int) -> _Column:
        return _Column(self.kind, self.values[start:stop], self.null[start:stop])


def kind_of(series: pd.Series) -> Kind:
    """The PostgreSQL type a column is written as, from its dtype."""
    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date"
    if pd.api.types.is_float_dtype(dtype):
        return "float8"
    if pd.api.types.is_integer_dtype(dtype):
        return "int8"
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        return "text"
    raise TypeError(f"column {series.name!r}: no binary COPY encoding for dtype {dtype}")


def _column(series: pd.Series) -> _Column:
    kind = kind_of(series)
    null = series.isna().to_numpy()
    if kind == "date":
        days = series.to_numpy(dtype="datetime64[D]") - _PG_EPOCH
        return _Column(kind, np.where(null, 0, days.astype(np.int64)).astype(np.int32), null)
    if kind == "int8":
        return _Column(kind, series.to_numpy(dtype=np.int64, na_value=0), null)
    if kind == "float8":
        return _Column(kind, series.to_numpy(dtype=np.float64), null)
    return _Column(kind, series.to_numpy(dtype=object), null)


def encode(frame: pd.DataFrame, columns: Sequence[str]) -> Iterator[memoryview]:
    """The COPY payload for ``frame[columns]``, as consecutive chunks (header … trailer).

    Chunks are produced lazily, ``CHUNK_ROWS`` rows at a time, as the reader consumes them: a
    million-row COPY holds a few megabytes of payload at any moment, never the whole of it.
    """
    encoded = [_column(frame[name]) for name in columns]
    yield memoryview(HEADER)
    if any(column.kind == "text" for column in encoded):
        yield memoryview(_rows_one_by_one(encoded, len(frame)))
    else:
        for start in range(0, len(frame), CHUNK_ROWS):
            part = [column.rows(start, start + CHUNK_ROWS) for column in encoded]
            yield from _rows_by_null_pattern(part, len(part[0].null))
    yield memoryview(TRAILER)


def _rows_by_null_pattern(columns: Sequence[_Column], rows: int) -> Iterator[memoryview]:
    """Fixed-width columns: one structured array per distinct NULL pattern (usually 1 to 5)."""
    if rows == 0:
        return
    nulls = np.column_stack([column.null for column in columns])
    if not nulls.any():
        yield _pack(columns, np.zeros(len(columns), dtype=bool), slice(None), rows)
        return
    patterns, inverse = np.unique(nulls, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    for index, pattern in enumerate(patterns):
        selected = inverse == index
        yield _pack(columns, pattern, selected, int(selected.sum()))


def _row_dtype(kinds: Sequence[Kind], null: Sequence[bool] | np.ndarray) -> np.dtype[np.void]:
    """Layout of a COPY tuple of fixed-width fields (``value{i}`` omitted where NULL)."""
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for index, (kind, is_null) in enumerate(zip(kinds, null, strict=True)):
        fields.append((f"length{index}", ">i4"))
        if not is_null:
            fields.append((f"value{index}", _FIXED[kind][0]))
    return np.dtype(fields)


def _pack(columns: Sequence[_Column], null: np.ndarray, rows: Any, count: int) -> memoryview:
    """Rows ``rows`` of ``columns`` whose NULLs are exactly ``null``, laid out as COPY tuples."""
    packed = np.empty(count, dtype=_row_dtype([column.kind for column in columns], null))
    packed["count"] = len(columns)
    for index, (column, is_null) in enumerate(zip(columns, null, strict=True)):
        packed[f"length{index}"] = -1 if is_null else _FIXED[column.kind][1]
        if not is_null:
            packed[f"value{index}"] = column.values[rows]
    return packed.data.cast("B")


def _rows_one_by_one(columns: Sequence[_Column], rows: int) -> bytes:
    """Any column types, one row at a time: for small frames with text columns."""
    count = struct.pack(">h", len(columns))
    parts: list[bytes] = []
    for row in range(rows):
        parts.append(count)
        parts.extend(_field(column, row) for column in columns)
    return b"".join(parts)


def _field(column: _Column, row: int) -> bytes:
    if column.null[row]:
        return struct.pack(">i", -1)
    value = column.values[row]
    if column.kind == "text":
        data = str(value).encode("utf-8")
        return struct.pack(">i", len(data)) + data
    code, width = _FIXED[column.kind]
    return struct.pack(">i", width) + np.asarray(value).astype(code).tobytes()


def decode(
    payload: bytes | memoryview, fields: Sequence[tuple[str, Kind]]
) -> dict[str, np.ndarray]:
    """The columns of a binary ``COPY … TO STDOUT`` whose ``fields`` are fixed-width, never NULL.

    Dates come back as ``datetime64[ns]``. Raises ValueError for anything else (a NULL included).
    """
    data = memoryview(payload).cast("B")
    if bytes(data[: len(SIGNATURE)]) != SIGNATURE or bytes(data[-2:]) != TRAILER:
        raise ValueError("not a binary COPY payload")
    (extension,) = struct.unpack(">i", data[len(HEADER) - 4 : len(HEADER)])
    kinds = [kind for _, kind in fields]
    layout = _row_dtype(kinds, [False] * len(kinds))
    body = data[len(HEADER) + extension : -2]
    rows = np.frombuffer(body, dtype=layout, count=len(body) // layout.itemsize)
    widths_ok = all(
        (rows[f"length{index}"] == _FIXED[kind][1]).all() for index, kind in enumerate(kinds)
    )
    if len(body) % layout.itemsize or not ((rows["count"] == len(fields)).all() and widths_ok):
        raise ValueError("unexpected field count, width or NULL in a binary COPY payload")
    return {name: _native(rows[f"value{index}"], kind) for index, (name, kind) in enumerate(fields)}


def _native(values: np.ndarray, kind: Kind) -> np.ndarray:
    if kind == "date":
        return (_PG_EPOCH + values.astype(np.int64)).astype("datetime64[ns]")
    return values.astype(_FIXED[kind][0].replace(">", "="))


class ChunkReader:
    """A read-only file over memory chunks, for ``cursor.copy_expert`` (which calls ``read``)."""

    def __init__(self, chunks: Iterator[memoryview]) -> None:
        self._chunks = chunks
        self._current = memoryview(b"")
        self._offset = 0

    def read(self, size: int = -1) -> bytes:
        while self._offset >= len(self._current):
            next_chunk = next(self._chunks, None)
            if next_chunk is None:
                return b""
            self._current, self._offset = next_chunk, 0
        end = len(self._current) if size < 0 else self._offset + size
        data = self._current[self._offset : end].tobytes()
        self._offset += len(data)
        return data
