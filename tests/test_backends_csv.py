"""CSV range tables: the IP2Location LITE CSV layout (IPv4 and IPv6) and generic start,end,country."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import IP2Location
import numpy as np
import pytest

from conftest import shared_file
from ipevidence.addresses import format_ipv4, int_to_ipv6
from ipevidence.backends import CsvRangeBackend, IP2LocationBackend, open_database
from ipevidence.countries import is_known_country
from ipevidence.errors import DatabaseFormatError, FamilyMismatchError

DATE = dt.date(2024, 10, 1)

LITE_V4 = """\
"0","16777215","-","-"
"16777216","16777471","US","United States of America"
"16777472","16778239","CN","China"
"16778240","16779263","AU","Australia"
"16779264","4294967295","-","-"
"""


def _v6(text: str) -> int:
    return int(ipaddress.ip_address(text))


def test_ip2location_lite_csv_v4(tmp_path: Path) -> None:
    p = tmp_path / "IP2LOCATION-LITE-DB1.CSV"
    p.write_text(LITE_V4)
    b = CsvRangeBackend(p, build_date=DATE)
    assert b.build_date == DATE
    assert b.families == frozenset({4})
    got = b.lookup(np.array([0, 16777215, 16777216, 16777471, 16777472, 16779263, 16779264], np.uint32))
    assert got.tolist() == [b"", b"", b"US", b"US", b"CN", b"AU", b""]
    assert b.nonstandard_codes == {"-": 2}
    info = b.describe()
    assert info.kind == "csv-ranges"
    assert info.ranges == 5
    assert info.name == "IP2LOCATION-LITE-DB1.CSV"
    assert "decimal" in info.description


def test_ip2location_lite_csv_v6_layout(tmp_path: Path) -> None:
    mapped = _v6("::ffff:0:0")
    rows = [
        (0, mapped - 1, "-"),
        (mapped, mapped + 16777215, "-"),
        (mapped + 16777216, mapped + 16777471, "US"),
        (mapped + 16777472, mapped + 0xFFFFFFFF, "-"),
        (mapped + 0x100000000, _v6("2001:4860::") - 1, "-"),
        (_v6("2001:4860::"), _v6("2001:4860:ffff:ffff:ffff:ffff:ffff:ffff"), "DE"),
        (_v6("2001:4861::"), (1 << 128) - 1, "-"),
    ]
    p = tmp_path / "IP2LOCATION-LITE-DB1.IPV6.CSV"
    p.write_text("".join(f'"{s}","{e}","{c}","name"\n' for s, e, c in rows))
    b = CsvRangeBackend(p, build_date=DATE)
    assert b.families == frozenset({4, 6})
    assert b.country("1.0.0.1") == "US"  # IPv4 from the ::ffff:0:0/96 block
    assert b.country("::ffff:1.0.0.1") == "US"
    assert b.country("1.0.1.1") is None
    assert b.country("2001:4860::8888") == "DE"
    assert b.country("2001:4861::1") is None
    assert "128-bit" in b.describe().description


def test_generic_text_layout_with_header_and_date_comment(tmp_path: Path) -> None:
    p = tmp_path / "ranges.txt"
    p.write_text(
        "# my ranges\n# build_date: 2023-01-15\n\nstart,end,country\n"
        "10.0.0.0,10.0.0.255,de\n"
        "192.0.2.0,192.0.2.255,FR\n"
        "2001:db8::,2001:db8::ffff,NL\n"
        "2001:db8:1::,2001:db8:1::ff,ZZ\n"
    )
    b = CsvRangeBackend(p)
    assert b.build_date == dt.date(2023, 1, 15)
    assert b.families == frozenset({4, 6})
    assert b.country("10.0.0.7") == "DE"
    assert b.country("192.0.2.255") == "FR"
    assert b.country("2001:db8::abc") == "NL"
    assert b.country("2001:db8:1::1") is None
    assert b.nonstandard_codes == {"ZZ": 1}
    assert CsvRangeBackend(p, build_date=dt.date(2023, 1, 15)).build_date == dt.date(2023, 1, 15)
    with pytest.raises(DatabaseFormatError, match="disagrees"):
        CsvRangeBackend(p, build_date=dt.date(2020, 1, 1))


def test_generic_decimal_v4_only(tmp_path: Path) -> None:
    p = tmp_path / "dec.csv"
    p.write_text("ip_from,ip_to,country_code\n100,200,CZ\n201,300,SK\n")
    b = CsvRangeBackend(p, build_date=DATE)
    assert b.lookup(np.array([99, 100, 200, 201, 300, 301], np.uint32)).tolist() == [
        b"",
        b"CZ",
        b"CZ",
        b"SK",
        b"SK",
        b"",
    ]
    with pytest.raises(FamilyMismatchError):
        b.lookup(int_to_ipv6([5]))


def test_build_date_is_required(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text(LITE_V4)
    with pytest.raises(DatabaseFormatError, match="build date"):
        CsvRangeBackend(p)
    with pytest.raises(DatabaseFormatError, match="build date"):
        open_database(p)
    assert open_database(p, build_date=DATE).build_date == DATE


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("1,2\n", "expected start,end,country"),
        ("1.2.3.4,x,DE\n", "not an address range"),
        ("1.2.3.4,2001:db8::,DE\n", "mixes"),
        ("10,5,DE\n", "invalid range"),
        ("1,10,DE\n5,20,FR\n", "overlap"),
        ("# build_date: 2024-13-01\n1,10,DE\n", "YYYY-MM-DD"),
        ("# build_date: 2024-01-01\n", "no ranges"),
    ],
)
def test_malformed_files_name_the_problem(tmp_path: Path, body: str, message: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(body)
    with pytest.raises(DatabaseFormatError, match=message):
        CsvRangeBackend(p, build_date=None if "build_date" in body else DATE)


def test_binary_file_is_not_csv(tmp_path: Path) -> None:
    p = tmp_path / "bin.csv"
    p.write_bytes(b"\xff\xfe\x00\x01" * 100)
    with pytest.raises(DatabaseFormatError):
        CsvRangeBackend(p, build_date=DATE)


def test_csv_from_real_bin_agrees_with_official(tmp_path: Path) -> None:
    """Export the real LITE BIN's ranges as a LITE CSV, read it back, compare with the official reader."""
    src = shared_file("ip2location/IP2LOCATION-LITE-DB1-2021-05-28.BIN")
    b = IP2LocationBackend(src)
    fr = b.table.family(4)
    lines = [
        f'"{s}","{e}","{c.decode() or "-"}","x"\n'
        for s, e, c in zip(fr.starts.tolist(), fr.ends.tolist(), fr.countries.tolist(), strict=True)
    ]
    p = tmp_path / "lite.csv"
    p.write_text("".join(lines))
    csvb = open_database(p, build_date=b.build_date)
    assert isinstance(csvb, CsvRangeBackend)
    rng = np.random.default_rng(3)
    addrs = rng.integers(0, 2**32, 20_000, dtype=np.uint64).astype(np.uint32)
    ours = csvb.lookup(addrs)
    assert ours.tolist() == b.lookup(addrs).tolist()
    off = IP2Location.IP2Location(str(src))
    ref = [off.get_country_short(ip) for ip in format_ipv4(addrs[:3000])]
    assert [c.decode() for c in ours[:3000].tolist()] == [r if is_known_country(r) else "" for r in ref]
