"""IP2Location BIN: the real LITE files against the official IP2Location package, and generated
BIN files (DB3, DB5, IPv6) written to the documented layout."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import shutil
import struct
from pathlib import Path

import IP2Location
import numpy as np
import pytest

from conftest import shared_file
from ipevidence.addresses import format_ipv4, format_ipv6, int_to_ipv6
from ipevidence.backends import IP2LocationBackend, open_database
from ipevidence.backends.writers import write_ip2location_bin
from ipevidence.countries import is_known_country
from ipevidence.errors import DatabaseFormatError, FamilyMismatchError, InvalidAddressError

LITE = {
    "IP2LOCATION-LITE-DB1-2024-10-01.BIN": (dt.date(2024, 10, 1), 251_471),
    "IP2LOCATION-LITE-DB1-2021-05-28.BIN": (dt.date(2021, 5, 28), 210_222),
}
# random addresses per file checked against the official per-address reader (~16 us each); the
# full 1 million per file is in benchmarks/lookup.py --differential
RANDOM_IN_TEST = 60_000


def official_reader(path: Path, tmp: Path) -> IP2Location.IP2Location:
    """The official reader in its faster SHARED_MEMORY mode (which opens the file read-write, so it
    reads a private copy)."""
    copy = tmp / path.name
    shutil.copy(path, copy)
    copy.chmod(0o644)
    return IP2Location.IP2Location(str(copy), "SHARED_MEMORY")


def official_codes(db: IP2Location.IP2Location, ips: list[str]) -> list[str]:
    out = []
    for ip in ips:
        c = db.get_country_short(ip)
        out.append(c if c and len(c) == 2 and is_known_country(c) else "")
    return out


@pytest.fixture(scope="module", params=sorted(LITE))
def lite(request: pytest.FixtureRequest) -> tuple[str, Path]:
    name = str(request.param)
    return name, shared_file(f"ip2location/{name}")


def test_header_build_date_and_provenance(lite: tuple[str, Path]) -> None:
    name, path = lite
    b = IP2LocationBackend(path)
    date, rows = LITE[name]
    assert b.build_date == date
    assert b.families == frozenset({4})
    info = b.describe()
    assert info.kind == "ip2location-bin"
    assert info.name == name
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info.build_date == date
    assert info.ranges == rows - 1  # the last row only closes the last range
    assert b.header.db_type == 1
    assert set(b.nonstandard_codes) == {"-"}


def test_every_range_start_and_end_matches_official(lite: tuple[str, Path], tmp_path: Path) -> None:
    """Every range start and end of the current file; every other range of the older one (to keep
    the suite fast: the official reader costs ~15 us an address). benchmarks/lookup.py
    --differential checks every range of both files."""
    name, path = lite
    b = IP2LocationBackend(path)
    fr = b.table.family(4)
    step = 1 if name == max(LITE) else 2
    probes = np.concatenate([fr.starts[::step], fr.ends[::step]])
    ours = [c.decode() for c in b.lookup(probes).tolist()]
    ref = official_codes(official_reader(path, tmp_path), format_ipv4(probes))
    assert ours == ref


def test_random_addresses_match_official(lite: tuple[str, Path], tmp_path: Path) -> None:
    _, path = lite
    b = IP2LocationBackend(path)
    rng = np.random.default_rng(20231305)
    addrs = rng.integers(0, 2**32, RANDOM_IN_TEST, dtype=np.uint64).astype(np.uint32)
    addrs[:4] = [0, 1, 0xFFFFFFFE, 0xFFFFFFFF]
    ours = [c.decode() for c in b.lookup(addrs).tolist()]
    ref = official_codes(official_reader(path, tmp_path), format_ipv4(addrs))
    assert ours == ref


def test_known_answers_and_scalar_api() -> None:
    b = IP2LocationBackend(shared_file("ip2location/IP2LOCATION-LITE-DB1-2024-10-01.BIN"))
    assert b.country("8.8.8.8") == "US"
    assert b.country("10.0.0.1") is None  # "-" in the file: not located, never "-"
    assert b.country(" 8.8.8.8 ") == "US"
    with pytest.raises(InvalidAddressError):
        b.country("not-an-ip")
    with pytest.raises(InvalidAddressError):
        b.country("8.8.8.256")
    with pytest.raises(FamilyMismatchError):
        b.country("2001:4860::8888")
    with pytest.raises(FamilyMismatchError):
        b.lookup(np.zeros(2, "S16"))
    starts, ends = b.ranges_for("LI")
    assert len(starts) > 0
    assert b.lookup(starts).tolist() == [b"LI"] * len(starts)
    assert b.lookup(ends).tolist() == [b"LI"] * len(ends)


def test_date_dated_versions_differ() -> None:
    new = IP2LocationBackend(shared_file("ip2location/IP2LOCATION-LITE-DB1-2024-10-01.BIN"))
    old = IP2LocationBackend(shared_file("ip2location/IP2LOCATION-LITE-DB1-2021-05-28.BIN"))
    assert old.build_date < new.build_date
    assert old.describe().sha256 != new.describe().sha256


# --- generated BIN files --------------------------------------------------------------------


def _ip(text: str) -> int:
    return int(ipaddress.ip_address(text))


V4 = [
    (_ip("1.0.0.0"), _ip("1.0.0.255"), "AU"),
    (_ip("8.8.8.0"), _ip("8.8.8.255"), "US"),
    (_ip("81.2.69.0"), _ip("81.2.69.255"), "GB"),
    (_ip("193.0.0.0"), _ip("193.0.31.255"), "NL"),
    (_ip("200.0.0.0"), _ip("200.0.0.9"), "ZZ"),
]
V6 = [
    (_ip("2001:4860::"), _ip("2001:4860:ffff:ffff:ffff:ffff:ffff:ffff"), "US"),
    (_ip("2a00:1450::"), _ip("2a00:1450:ffff:ffff:ffff:ffff:ffff:ffff"), "IE"),
    (_ip("::ffff:0:0"), _ip("::ffff:ffff:ffff"), "DE"),  # the IPv4-mapped block (never used)
]


@pytest.mark.parametrize("db_type", [1, 3, 5, 11])
def test_generated_bin_matches_official(tmp_path: Path, db_type: int) -> None:
    path = tmp_path / f"DB{db_type}.BIN"
    write_ip2location_bin(path, v4=V4, v6=V6, db_type=db_type, build_date=dt.date(2022, 2, 28))
    b = IP2LocationBackend(path)
    assert b.build_date == dt.date(2022, 2, 28)
    assert b.families == frozenset({4, 6})
    assert b.nonstandard_codes == {"-": 6 + 4, "ZZ": 1}  # the gaps the writer fills with "-"
    off = IP2Location.IP2Location(str(path))
    rng = np.random.default_rng(db_type)
    v4 = np.concatenate(
        [
            np.array([s + d for s, e, _ in V4 for d in (-1, 0, 1)] + [e for _, e, _ in V4], np.int64),
            rng.integers(0, 2**32, 300),
        ]
    )
    v4 = v4[(v4 >= 0) & (v4 < 2**32)].astype(np.uint32)
    assert [c.decode() for c in b.lookup(v4).tolist()] == official_codes(off, format_ipv4(v4))
    extra = [
        "::ffff:8.8.8.8",
        "::ffff:1.0.0.1",
        "2002:0808:0808::1",
        "2002:5102:4501::",
        "2001:0:0:0:0:0:f7f7:f7f7",
    ]
    v6_ints = [s + d for s, e, _ in V6 for d in (-1, 0, 1)] + [e for _, e, _ in V6] + [_ip(x) for x in extra]
    v6_ints += [int(x) for x in rng.integers(0, 2**63, 200)] + [(1 << 128) - 1, 0]
    col = int_to_ipv6([x % (1 << 128) for x in v6_ints])
    assert [c.decode() for c in b.lookup(col).tolist()] == official_codes(off, format_ipv6(col))
    # the vendor's IPv4-in-IPv6 rules: mapped, 6to4 and Teredo addresses use the IPv4 table
    assert b.country("::ffff:8.8.8.8") == "US"
    assert b.country("2002:0808:0808::1") == "US"
    assert b.country("2001:0:0:0:0:0:f7f7:f7f7") == "US"  # Teredo client ~f7f7f7f7 = 8.8.8.8
    assert b.country("2a00:1450::1") == "IE"


def test_open_database_detects_bin_by_content(tmp_path: Path) -> None:
    src = shared_file("ip2location/IP2LOCATION-LITE-DB1-2021-05-28.BIN")
    renamed = tmp_path / "whatever.mmdb"
    shutil.copy(src, renamed)
    b = open_database(renamed)
    assert isinstance(b, IP2LocationBackend)
    assert b.describe().name == "whatever.mmdb"
    assert b.country("8.8.8.8") == "US"


def _header(**kw: int) -> bytes:
    f = {"db_type": 1, "cols": 2, "y": 24, "m": 10, "d": 1, "n4": 2, "a4": 65, "n6": 0, "a6": 1, "pc": 1}
    f.update(kw)
    order = ("db_type", "cols", "y", "m", "d", "n4", "a4", "n6", "a6")
    values = [f[k] for k in order] + [0, 0, f["pc"], 1, 0]
    return struct.pack("<BBBBBIIIIIIBBB", *values).ljust(64, b"\0")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"db_type": 0}, "DB type"),
        ({"db_type": 99}, "DB type"),
        ({"cols": 1}, "columns"),
        ({"m": 13}, "build date"),
        ({"d": 0}, "build date"),
        ({"n4": 10_000}, "past the end"),
        ({"n4": 0, "n6": 0}, "no IPv4"),
        ({"pc": 2}, "product code"),
    ],
)
def test_broken_headers_raise_database_format_error(
    tmp_path: Path, fields: dict[str, int], message: str
) -> None:
    path = tmp_path / "bad.BIN"
    body = struct.pack("<IIII", 0, 81, 0xFFFFFFFF, 81) + b"\x01-\x01-"
    path.write_bytes(_header(**fields) + body)
    with pytest.raises(DatabaseFormatError, match=message):
        IP2LocationBackend(path)


def test_truncated_and_empty_files(tmp_path: Path) -> None:
    src = shared_file("ip2location/IP2LOCATION-LITE-DB1-2021-05-28.BIN").read_bytes()
    cut = tmp_path / "cut.BIN"
    cut.write_bytes(src[: len(src) // 2])
    with pytest.raises(DatabaseFormatError):
        IP2LocationBackend(cut)
    empty = tmp_path / "empty.BIN"
    empty.write_bytes(b"")
    with pytest.raises(DatabaseFormatError):
        IP2LocationBackend(empty)
    with pytest.raises(DatabaseFormatError):
        IP2LocationBackend(tmp_path / "missing.BIN")


def test_unsorted_table_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "unsorted.BIN"
    strings = 64 + 4 * 8
    body = struct.pack("<IIIIIIII", 0, strings, 500, strings, 100, strings, 0xFFFFFFFF, strings) + b"\x01-"
    path.write_bytes(_header(n4=4) + body)
    with pytest.raises(DatabaseFormatError, match="not sorted"):
        IP2LocationBackend(path)
