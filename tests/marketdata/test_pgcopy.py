"""Binary COPY encoding and decoding, by hand-built bytes and through a real PostgreSQL."""

from __future__ import annotations

import io
import math
import struct
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, text

from hubctl.marketdata import pgcopy, storage

NUMERIC = ["id", "day", "price", "shares"]


def _payload(frame: pd.DataFrame, columns: list[str]) -> bytes:
    return b"".join(bytes(chunk) for chunk in pgcopy.encode(frame, columns))


def _sample() -> pd.DataFrame:
    """Every NULL pattern the encoder must group: none, one column, two columns."""
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "day": pd.to_datetime(["2000-01-01", "1999-12-31", None, "2024-02-29"]),
            "price": [1.5, math.nan, -0.25, 1e300],
            "shares": pd.array([10, None, 2**62, -7], dtype="Int64"),
            "name": ["a", None, 'ünïcode, "quoted"\nline', ""],
        }
    )


def test_encoding_follows_the_documented_layout() -> None:
    frame = pd.DataFrame(
        {"id": [7], "day": pd.to_datetime(["2000-01-03"]), "price": [math.nan], "n": [5]}
    )

    payload = _payload(frame, ["id", "day", "price", "n"])

    row = struct.pack(">h", 4) + struct.pack(">iq", 8, 7) + struct.pack(">ii", 4, 2)
    row += struct.pack(">i", -1) + struct.pack(">iq", 8, 5)
    assert payload == b"PGCOPY\n\xff\r\n\x00" + bytes(8) + row + struct.pack(">h", -1)


def test_unsupported_dtype_is_refused() -> None:
    with pytest.raises(TypeError, match="'flag'"):
        _payload(pd.DataFrame({"flag": [True]}), ["flag"])


def _round_trip(conn: Connection, frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    conn.execute(
        text(
            "CREATE TEMP TABLE t (id bigint, day date, price float8, shares bigint, name text)"
            " ON COMMIT DROP"
        )
    )
    storage.copy_into(conn, "t", columns, frame)
    return [
        tuple(row) for row in conn.execute(text(f"SELECT {', '.join(columns)} FROM t ORDER BY id"))
    ]


@pytest.mark.parametrize("columns", [NUMERIC, [*NUMERIC, "name"]], ids=["numpy", "row-by-row"])
def test_values_and_nulls_survive_a_copy(engine: Engine, columns: list[str]) -> None:
    frame = _sample()
    with engine.begin() as conn:
        stored = _round_trip(conn, frame, columns)

    expected = [
        (1, date(2000, 1, 1), 1.5, 10, "a"),
        (2, date(1999, 12, 31), None, None, None),
        (3, None, -0.25, 2**62, 'ünïcode, "quoted"\nline'),
        (4, date(2024, 2, 29), 1e300, -7, ""),
    ]
    assert stored == [row[: len(columns)] for row in expected]


def test_rows_are_encoded_in_chunks(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pgcopy, "CHUNK_ROWS", 3)
    frame = pd.concat([_sample()] * 3, ignore_index=True).assign(id=range(12))

    chunks = list(pgcopy.encode(frame, NUMERIC))
    with engine.begin() as conn:
        stored = _round_trip(conn, frame, NUMERIC)

    assert len(chunks) > 4  # header, several chunks of patterns, trailer
    assert [row[0] for row in stored] == list(range(12))
    assert [row[2] for row in stored] == [1.5, None, -0.25, 1e300] * 3


def test_an_empty_frame_copies_nothing(engine: Engine) -> None:
    with engine.begin() as conn:
        assert _round_trip(conn, _sample().iloc[:0], NUMERIC) == []


def test_decode_reads_what_postgres_writes(engine: Engine) -> None:
    frame = _sample().dropna(subset=["day", "price"])
    with engine.begin() as conn:
        _round_trip(conn, frame, NUMERIC)
        buffer = io.BytesIO()
        with storage._driver_cursor(conn) as cursor:
            cursor.copy_expert(
                "COPY (SELECT id, day, price FROM t ORDER BY id) TO STDOUT (FORMAT binary)", buffer
            )
            cursor.copy_expert(
                "COPY (SELECT id, day FROM t WHERE false) TO STDOUT (FORMAT binary)",
                empty := io.BytesIO(),
            )
            cursor.copy_expert(
                "COPY (SELECT NULL::bigint) TO STDOUT (FORMAT binary)", null := io.BytesIO()
            )

    fields: list[tuple[str, pgcopy.Kind]] = [("id", "int8"), ("day", "date"), ("price", "float8")]
    columns = pgcopy.decode(buffer.getvalue(), fields)
    np.testing.assert_array_equal(columns["id"], [1, 4])
    np.testing.assert_array_equal(columns["day"], frame["day"].to_numpy())
    np.testing.assert_array_equal(columns["price"], [1.5, 1e300])
    assert columns["day"].dtype == np.dtype("datetime64[ns]")
    assert len(pgcopy.decode(empty.getvalue(), fields[:2])["id"]) == 0
    with pytest.raises(ValueError, match="NULL"):
        pgcopy.decode(null.getvalue(), fields[:1])
    with pytest.raises(ValueError, match="not a binary COPY"):
        pgcopy.decode(b"id,day\n", fields)
