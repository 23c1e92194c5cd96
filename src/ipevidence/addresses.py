"""IP addresses as numpy columns, and which addresses can be evidence at all.

Conventions used across the library:

* an IPv4 column is ``numpy.uint32`` (host order value of the dotted quad);
* an IPv6 column is ``numpy.dtype("S16")``: the 16 bytes of the address in network (big-endian)
  order. Fixed-width byte strings compare like the 128-bit numbers they encode, so sorting and
  ``numpy.searchsorted`` work on them directly. (numpy hides trailing NUL bytes when it hands out
  one element; use :func:`format_ipv6` or ``column.tobytes()`` rather than ``bytes(element)``.)

"Globally routable unicast" follows Python's ``ipaddress`` ``is_global`` (the IANA special-purpose
registries) and additionally excludes multicast; for IPv6 only the global unicast block 2000::/3
counts. The tables are spelled out below so that behaviour does not change with the Python version.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from .errors import InvalidAddressError, ReservedAddressError

__all__ = [
    "IPV4_DTYPE",
    "IPV6_DTYPE",
    "IPAddress",
    "format_ipv4",
    "format_ipv6",
    "global_mask_v4",
    "global_mask_v6",
    "int_to_ipv6",
    "ipv4_column",
    "ipv6_column",
    "ipv6_to_int",
    "non_global_reason",
    "parse_address",
    "require_global",
]

IPV4_DTYPE: Final = np.dtype(np.uint32)
IPV6_DTYPE: Final = np.dtype("S16")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# (network, reason) for IPv4 space that is not globally routable unicast. Exceptions that ARE
# global inside a listed block come first in _V4_GLOBAL_EXCEPTIONS.
_V4_NON_GLOBAL: Final[tuple[tuple[str, str], ...]] = (
    ("0.0.0.0/8", "this network"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared address space (carrier-grade NAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
)
_V4_GLOBAL_EXCEPTIONS: Final[tuple[str, ...]] = ("192.0.0.9/32", "192.0.0.10/32")

_V6_NON_GLOBAL: Final[tuple[tuple[str, str], ...]] = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::ffff:0:0/96", "IPv4-mapped"),
    ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation"),
    ("100::/64", "discard-only"),
    ("2001::/23", "IETF protocol assignments"),
    ("2001:db8::/32", "documentation"),
    ("2002::/16", "6to4"),
    ("3fff::/20", "documentation"),
    ("fc00::/7", "unique local (private)"),
    ("fe80::/10", "link-local"),
    ("ff00::/8", "multicast"),
)
_V6_GLOBAL_EXCEPTIONS: Final[tuple[str, ...]] = (
    "2001:1::1/128",
    "2001:1::2/128",
    "2001:3::/32",
    "2001:4:112::/48",
    "2001:20::/28",
    "2001:30::/28",
)
_V6_GLOBAL_UNICAST: Final = ipaddress.IPv6Network("2000::/3")


def parse_address(text: object) -> IPAddress:
    """Parse one IPv4 or IPv6 address; raise :class:`InvalidAddressError` if it is not one."""
    if isinstance(text, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return text
    if not isinstance(text, str):
        raise InvalidAddressError(text, "an address must be given as a string")
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        raise InvalidAddressError(text) from None


def non_global_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not globally routable unicast, or None if it is."""
    if isinstance(address, ipaddress.IPv4Address):
        if any(address in ipaddress.IPv4Network(n) for n in _V4_GLOBAL_EXCEPTIONS):
            return None
        for net, reason in _V4_NON_GLOBAL:
            if address in ipaddress.IPv4Network(net):
                return reason
        if int(address) == 0xFFFFFFFF:
            return "limited broadcast"
        return None
    if any(address in ipaddress.IPv6Network(n) for n in _V6_GLOBAL_EXCEPTIONS):
        return None
    for net, reason in _V6_NON_GLOBAL:
        if address in ipaddress.IPv6Network(net):
            return reason
    if address not in _V6_GLOBAL_UNICAST:
        return "reserved (outside the global unicast block 2000::/3)"
    return None


def require_global(text: object) -> IPAddress:
    """Parse an address and insist it is globally routable unicast.

    Raises :class:`InvalidAddressError` for a non-address and :class:`ReservedAddressError`
    (naming the reason) for private, shared, loopback, documentation, multicast or reserved space.
    """
    addr = parse_address(text)
    reason = non_global_reason(addr)
    if reason is not None:
        raise ReservedAddressError(text, f"not a globally routable address ({reason})")
    return addr


def _v4(text: str) -> int:
    return int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")


def ipv4_column(values: Iterable[object]) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.bool_]]:
    """Parse dotted-quad strings into a ``uint32`` column and a validity mask.

    Anything that is not a strict dotted quad (None, a number, an IPv6 address, "1.2.3") is
    invalid: its value is 0 and its mask entry False.
    """
    vals: list[int] = []
    ok: list[bool] = []
    for v in values:
        if isinstance(v, str):
            try:
                vals.append(_v4(v))
                ok.append(True)
                continue
            except OSError:
                pass
        vals.append(0)
        ok.append(False)
    return np.array(vals, dtype=IPV4_DTYPE), np.array(ok, dtype=np.bool_)


def ipv6_column(values: Iterable[object]) -> tuple[npt.NDArray[np.bytes_], npt.NDArray[np.bool_]]:
    """Parse IPv6 strings into an ``S16`` column (network byte order) and a validity mask."""
    buf = bytearray()
    ok: list[bool] = []
    zero = bytes(16)
    for v in values:
        if isinstance(v, str):
            try:
                buf += socket.inet_pton(socket.AF_INET6, v.strip())
                ok.append(True)
                continue
            except (OSError, ValueError):
                pass
        buf += zero
        ok.append(False)
    col = np.frombuffer(bytes(buf), dtype=IPV6_DTYPE).copy()
    return col, np.array(ok, dtype=np.bool_)


def format_ipv4(column: npt.ArrayLike) -> list[str]:
    """Dotted-quad strings of a ``uint32`` column."""
    arr = np.asarray(column, dtype=IPV4_DTYPE).astype(">u4")
    raw = arr.tobytes()
    return [socket.inet_ntop(socket.AF_INET, raw[i : i + 4]) for i in range(0, len(raw), 4)]


def format_ipv6(column: npt.ArrayLike) -> list[str]:
    """Canonical (RFC 5952) IPv6 strings of an ``S16`` column."""
    raw = np.ascontiguousarray(np.asarray(column, dtype=IPV6_DTYPE)).tobytes()
    return [str(ipaddress.IPv6Address(raw[i : i + 16])) for i in range(0, len(raw), 16)]


def ipv6_to_int(column: npt.ArrayLike) -> list[int]:
    """The 128-bit integers of an ``S16`` column (for slow reference code and tests)."""
    raw = np.ascontiguousarray(np.asarray(column, dtype=IPV6_DTYPE)).tobytes()
    return [int.from_bytes(raw[i : i + 16], "big") for i in range(0, len(raw), 16)]


def int_to_ipv6(values: Sequence[int]) -> npt.NDArray[np.bytes_]:
    """An ``S16`` column from 128-bit integers."""
    raw = b"".join(int(v).to_bytes(16, "big") for v in values)
    out: npt.NDArray[np.bytes_] = np.frombuffer(raw, dtype=IPV6_DTYPE).copy()
    return out


def _range_table_v4(
    nets: Iterable[str],
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    pairs = sorted(
        (int(n.network_address), int(n.broadcast_address)) for n in (ipaddress.IPv4Network(s) for s in nets)
    )
    return np.array([p[0] for p in pairs], IPV4_DTYPE), np.array([p[1] for p in pairs], IPV4_DTYPE)


def _in_ranges(
    col: npt.NDArray[Any], starts: npt.NDArray[Any], ends: npt.NDArray[Any]
) -> npt.NDArray[np.bool_]:
    # ranges are sorted and non-overlapping: the candidate is the last start <= value
    idx = np.searchsorted(starts, col, side="right") - 1
    ok = idx >= 0
    idx = np.where(ok, idx, 0)
    return np.asarray(ok & (col <= ends[idx]), dtype=np.bool_)


def _merge_v4() -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    starts, ends = _range_table_v4([n for n, _ in _V4_NON_GLOBAL] + ["255.255.255.255/32"])
    return starts, ends


_V4_BAD = _merge_v4()
_V4_EXC = _range_table_v4(_V4_GLOBAL_EXCEPTIONS)


def global_mask_v4(column: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Vectorised: True where a ``uint32`` column holds a globally routable unicast address."""
    col = np.asarray(column, dtype=IPV4_DTYPE)
    bad = _in_ranges(col, *_V4_BAD) & ~_in_ranges(col, *_V4_EXC)
    return np.asarray(~bad, dtype=np.bool_)


def _range_table_v6(
    nets: Iterable[str],
) -> tuple[npt.NDArray[np.bytes_], npt.NDArray[np.bytes_]]:
    pairs = sorted(
        (n.network_address.packed, n.broadcast_address.packed)
        for n in (ipaddress.IPv6Network(s) for s in nets)
    )
    # nested blocks (2001:db8::/32 inside 2001::/23 is not nested, but be safe): drop contained ones
    merged: list[tuple[bytes, bytes]] = []
    for s, e in pairs:
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
            continue
        merged.append((s, e))
    return (
        np.frombuffer(b"".join(p[0] for p in merged), IPV6_DTYPE).copy(),
        np.frombuffer(b"".join(p[1] for p in merged), IPV6_DTYPE).copy(),
    )


_V6_BAD = _range_table_v6(n for n, _ in _V6_NON_GLOBAL)
_V6_EXC = _range_table_v6(_V6_GLOBAL_EXCEPTIONS)


def global_mask_v6(column: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Vectorised: True where an ``S16`` column holds a globally routable unicast address."""
    col = np.asarray(column, dtype=IPV6_DTYPE)
    raw = np.frombuffer(np.ascontiguousarray(col).tobytes(), dtype=np.uint8)
    first = raw[0::16] if raw.size else np.zeros(0, np.uint8)
    in_2000_3 = (first & 0xE0) == 0x20
    bad = _in_ranges(col, *_V6_BAD) & ~_in_ranges(col, *_V6_EXC)
    return np.asarray(in_2000_3 & ~bad, dtype=np.bool_)
