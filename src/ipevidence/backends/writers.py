"""Small, honest writers of IP2Location BIN and MaxMind DB files, for tests and demos.

They write the documented layouts (the BIN layout read by the official ``IP2Location`` package,
the MaxMind DB format 2.0 specification) so that generated databases can be checked against the
official readers. They are not tuned for size or speed: a few thousand ranges are their purpose.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import struct
from collections.abc import Mapping, Sequence
from typing import Any, Final

from .._io import atomic_write_bytes
from ..countries import country_name, is_known_country

__all__ = ["write_ip2location_bin", "write_mmdb"]

#: columns of the BIN row (ip_from + fields) for the DB types the writer knows
_BIN_COLUMNS: Final = {1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 9: 8, 11: 9}


def _cover(ranges: Sequence[tuple[int, int, str]], last: int) -> list[tuple[int, str]]:
    """(start, country) rows covering 0..last without gaps; gaps become "-"."""
    rows: list[tuple[int, str]] = []
    nxt = 0
    for start, end, code in sorted(ranges):
        if start < nxt or end < start or end > last:
            raise ValueError(f"ranges overlap or are out of bounds at {start}..{end}")
        if start > nxt:
            rows.append((nxt, "-"))
        rows.append((start, code))
        nxt = end + 1
    if nxt <= last:
        rows.append((nxt, "-"))
    return rows


def write_ip2location_bin(
    path: str | os.PathLike[str],
    *,
    v4: Sequence[tuple[int, int, str]] = (),
    v6: Sequence[tuple[int, int, str]] | None = None,
    db_type: int = 1,
    build_date: dt.date = dt.date(2024, 1, 1),
) -> None:
    """Write an IP2Location BIN file.

    ``v4``/``v6``: (start, end inclusive, country code or "-") as integers; gaps become "-".
    ``v6=None`` writes an IPv4-only file. Fields other than the country point to a "-" string
    (latitude/longitude read as 0). No search index is written (the reader then bisects the table).
    """
    columns = _BIN_COLUMNS[db_type]
    rows4 = _cover(v4, 0xFFFFFFFF)
    rows6 = _cover(v6, (1 << 128) - 1) if v6 is not None else []
    width4, width6 = columns * 4, columns * 4 + 12
    n4 = len(rows4) + 1  # + closing row
    n6 = len(rows6) + 1 if rows6 else 0
    base4 = 64
    base6 = base4 + n4 * width4
    strings_at = base6 + n6 * width6
    strings = bytearray()
    pointers: dict[str, int] = {}

    def pointer(code: str) -> int:
        if code not in pointers:
            long = country_name(code) if is_known_country(code) else code
            pointers[code] = strings_at + len(strings)
            short_b, long_b = code.encode("latin-1"), long.encode("latin-1", "replace")
            strings.extend(bytes([len(short_b)]) + short_b + bytes([len(long_b)]) + long_b)
        return pointers[code]

    dash = pointer("-")
    table4 = bytearray()
    for start, code in [*rows4, (0xFFFFFFFF, "-")]:
        table4 += struct.pack("<I", start) + struct.pack("<I", pointer(code))
        table4 += struct.pack("<I", dash) * (columns - 2)
    table6 = bytearray()
    if rows6:
        for start, code in [*rows6, ((1 << 128) - 1, "-")]:
            table6 += start.to_bytes(16, "little") + struct.pack("<I", pointer(code))
            table6 += struct.pack("<I", dash) * (columns - 2)
    header = struct.pack(
        "<BBBBBIIIIIIBBB",
        db_type,
        columns,
        build_date.year - 2000,
        build_date.month,
        build_date.day,
        n4,
        base4 + 1,
        n6,
        base6 + 1 if n6 else 1,
        0,
        0,
        1,  # product code: IP2Location
        1,
        0,
    ).ljust(64, b"\0")
    atomic_write_bytes(path, bytes(header + table4 + table6 + strings))


# --- MaxMind DB -------------------------------------------------------------------------------

_MARKER: Final = b"\xab\xcd\xefMaxMind.com"


def _ctrl(type_: int, size: int) -> bytes:
    if size < 29:
        first, extra = size, b""
    elif size < 29 + 256:
        first, extra = 29, bytes([size - 29])
    elif size < 285 + 65536:
        first, extra = 30, (size - 285).to_bytes(2, "big")
    else:
        first, extra = 31, (size - 65821).to_bytes(3, "big")
    if type_ <= 7:
        return bytes([(type_ << 5) | first]) + extra
    return bytes([first, type_ - 7]) + extra


def _encode(value: Any) -> bytes:
    if isinstance(value, bool):
        return _ctrl(14, int(value))
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _ctrl(2, len(raw)) + raw
    if isinstance(value, bytes):
        return _ctrl(4, len(value)) + value
    if isinstance(value, float):
        return _ctrl(3, 8) + struct.pack(">d", value)
    if isinstance(value, int):
        if value < 0:
            raw = value.to_bytes(4, "big", signed=True)
            return _ctrl(8, 4) + raw
        nbytes = (value.bit_length() + 7) // 8
        type_ = 5 if nbytes <= 2 else 6 if nbytes <= 4 else 9 if nbytes <= 8 else 10
        return _ctrl(type_, nbytes) + value.to_bytes(nbytes, "big")
    if isinstance(value, Mapping):
        out = _ctrl(7, len(value))
        for k, v in value.items():
            out += _encode(str(k)) + _encode(v)
        return out
    if isinstance(value, list | tuple):
        out = _ctrl(11, len(value))
        for v in value:
            out += _encode(v)
        return out
    raise TypeError(f"cannot encode {type(value).__name__} in a MaxMind DB")


def write_mmdb(
    path: str | os.PathLike[str],
    networks: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    ip_version: int = 6,
    record_size: int = 24,
    database_type: str = "ipevidence-Test",
    build_date: dt.date = dt.date(2024, 1, 1),
) -> None:
    """Write a MaxMind DB file from ``(CIDR network, record)`` pairs (record: a JSON-like mapping).

    In an IPv6 database, IPv4 networks are stored under ``::/96`` (where IPv4 lookups start);
    IPv4-mapped aliases are not written. ``record_size`` 24, 28 or 32.
    """
    bits = 128 if ip_version == 6 else 32
    # binary trie: node = [left, right]; a child is a node index, ("data", i) or None (empty)
    nodes: list[list[Any]] = [[None, None]]
    data_index: dict[bytes, int] = {}
    blobs: list[bytes] = []
    for cidr, record in networks:
        net = ipaddress.ip_network(cidr)
        value = int(net.network_address)
        plen = net.prefixlen
        if net.version == 4 and bits == 128:
            plen += 96
        elif net.version == 6 and bits == 32:
            raise ValueError(f"IPv6 network {cidr} in an IPv4 database")
        blob = _encode(dict(record))
        if blob not in data_index:
            data_index[blob] = len(blobs)
            blobs.append(blob)
        node = 0
        for depth in range(plen):
            bit = (value >> (bits - 1 - depth)) & 1
            if depth == plen - 1:
                if nodes[node][bit] is not None:
                    raise ValueError(f"network {cidr} overlaps another")
                nodes[node][bit] = ("data", data_index[blob])
                break
            child = nodes[node][bit]
            if child is None:
                nodes.append([None, None])
                nodes[node][bit] = len(nodes) - 1
                child = len(nodes) - 1
            elif isinstance(child, tuple):
                raise ValueError(f"network {cidr} lies inside another network")
            node = child
    node_count = len(nodes)
    offsets: list[int] = []
    data_section = bytearray()
    for blob in blobs:
        offsets.append(len(data_section))
        data_section += blob

    def record_value(child: Any) -> int:
        if child is None:
            return node_count
        if isinstance(child, tuple):
            return node_count + 16 + offsets[child[1]]
        return int(child)

    tree = bytearray()
    for left, right in nodes:
        lv, rv = record_value(left), record_value(right)
        if record_size == 24:
            tree += lv.to_bytes(3, "big") + rv.to_bytes(3, "big")
        elif record_size == 28:
            tree += (lv & 0xFFFFFF).to_bytes(3, "big")
            tree += bytes([((lv >> 24) << 4) | (rv >> 24)])
            tree += (rv & 0xFFFFFF).to_bytes(3, "big")
        elif record_size == 32:
            tree += lv.to_bytes(4, "big") + rv.to_bytes(4, "big")
        else:
            raise ValueError("record_size must be 24, 28 or 32")
    epoch = int(
        dt.datetime(build_date.year, build_date.month, build_date.day, tzinfo=dt.timezone.utc).timestamp()
    )
    # the specification fixes the metadata's integer types (libmaxminddb checks them)
    typed: list[tuple[str, bytes]] = [
        ("binary_format_major_version", _ctrl(5, 2) + (2).to_bytes(2, "big")),
        ("binary_format_minor_version", _ctrl(5, 2) + (0).to_bytes(2, "big")),
        ("build_epoch", _ctrl(9, 8) + epoch.to_bytes(8, "big")),
        ("database_type", _encode(database_type)),
        ("description", _encode({"en": "written by ipevidence.backends.writers"})),
        ("ip_version", _ctrl(5, 2) + ip_version.to_bytes(2, "big")),
        ("languages", _encode(["en"])),
        ("node_count", _ctrl(6, 4) + node_count.to_bytes(4, "big")),
        ("record_size", _ctrl(5, 2) + record_size.to_bytes(2, "big")),
    ]
    meta_blob = _ctrl(7, len(typed)) + b"".join(_encode(k) + v for k, v in typed)
    atomic_write_bytes(path, bytes(tree) + bytes(16) + bytes(data_section) + _MARKER + meta_blob)
