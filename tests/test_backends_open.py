"""open_database picks the backend from content (never the name), handles gzip, rejects the rest;
compare_databases tabulates agreement between databases."""

from __future__ import annotations

import datetime as dt
import gzip
import ipaddress
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_file
from ipevidence.backends import (
    CsvRangeBackend,
    DatabaseComparison,
    GeoBackend,
    IP2LocationBackend,
    MMDBBackend,
    RangeTable,
    compare_databases,
    detect_kind,
    open_database,
)
from ipevidence.backends.writers import write_ip2location_bin
from ipevidence.errors import DatabaseFormatError, FamilyMismatchError, InvalidAddressError
from ipevidence.jsonutil import canonical_json
from ipevidence.provenance import DatabaseInfo


def test_detection_ignores_file_names(tmp_path: Path) -> None:
    bin_src = shared_file("ip2location/IP2LOCATION-LITE-DB1-2021-05-28.BIN")
    mmdb_src = shared_file("mmdb/GeoLite2-Country-Test.mmdb")
    a = tmp_path / "looks-like.mmdb"
    shutil.copy(bin_src, a)
    b = tmp_path / "looks-like.BIN"
    shutil.copy(mmdb_src, b)
    c = tmp_path / "looks-like.mmdb.gz"
    c.write_text("# build_date: 2022-02-02\n1.0.0.0,1.0.0.255,AU\n")
    assert isinstance(open_database(a), IP2LocationBackend)
    assert isinstance(open_database(b), MMDBBackend)
    csv_backend = open_database(c)
    assert isinstance(csv_backend, CsvRangeBackend)
    assert csv_backend.build_date == dt.date(2022, 2, 2)
    assert detect_kind(bin_src.read_bytes()) == "ip2location-bin"
    assert detect_kind(mmdb_src.read_bytes()) == "mmdb"


@pytest.mark.parametrize(
    "relative",
    [
        "cloud-ranges-2022-12-31/microsoft-azure-ip-ranges.json",  # an HTML 404 page
        "cloud-ranges-2022-12-31/aws-ip-ranges.json",
        "pyasn/ipasn_20140513.dat.gz",
        "naturalearth/LICENSE-world-atlas",
    ],
)
def test_other_files_are_rejected(relative: str) -> None:
    with pytest.raises(DatabaseFormatError):
        open_database(shared_file(relative))


def test_garbage_and_missing_files(tmp_path: Path) -> None:
    for i, blob in enumerate([b"", b"\0" * 10, bytes(range(256)) * 10, b"\x1f\x8bnot really gzip"]):
        p = tmp_path / f"g{i}"
        p.write_bytes(blob)
        with pytest.raises(DatabaseFormatError):
            open_database(p)
    with pytest.raises(DatabaseFormatError):
        open_database(tmp_path / "nope.BIN")


def test_gzip_bin_in_memory_and_cached(tmp_path: Path) -> None:
    src = shared_file("ip2location/IP2LOCATION-LITE-DB1-2021-05-28.BIN")
    gz = tmp_path / "db1.bin.gz"
    gz.write_bytes(gzip.compress(src.read_bytes(), compresslevel=1))
    plain = IP2LocationBackend(src)
    mem = open_database(gz)
    cache = tmp_path / "cache"
    cached = open_database(gz, cache_dir=cache)
    again = open_database(gz, cache_dir=cache)
    assert len(list(cache.iterdir())) == 1
    addrs = np.random.default_rng(1).integers(0, 2**32, 5000, dtype=np.uint64).astype(np.uint32)
    for b in (mem, cached, again):
        assert isinstance(b, IP2LocationBackend)
        assert b.lookup(addrs).tolist() == plain.lookup(addrs).tolist()
        info = b.describe()
        assert info.name == "db1.bin.gz"
        assert info.build_date == plain.build_date
        assert plain.describe().sha256 in info.description  # the decompressed content's hash


def test_backends_satisfy_the_protocol(tmp_path: Path) -> None:
    csv = tmp_path / "r.csv"
    csv.write_text("1.0.0.0,1.0.0.255,AU\n")
    for b in (
        open_database(shared_file("ip2location/IP2LOCATION-LITE-DB1-2021-05-28.BIN")),
        open_database(shared_file("mmdb/GeoLite2-Country-Test.mmdb")),
        open_database(csv, build_date=dt.date(2020, 1, 1)),
    ):
        assert isinstance(b, GeoBackend)
        info = b.describe()
        assert isinstance(info, DatabaseInfo)
        json.loads(canonical_json(info.to_dict()))
        assert isinstance(getattr(b, "table", None), RangeTable)


# --- compare_databases ------------------------------------------------------------------------


def _ip(t: str) -> int:
    return int(ipaddress.ip_address(t))


def test_compare_known_answers(tmp_path: Path) -> None:
    a = tmp_path / "a.BIN"
    b = tmp_path / "b.BIN"
    write_ip2location_bin(
        a, v4=[(0, 99, "DE"), (100, 199, "FR"), (200, 299, "US")], build_date=dt.date(2020, 1, 1)
    )
    write_ip2location_bin(
        b, v4=[(0, 49, "DE"), (50, 99, "AT"), (100, 199, "FR")], build_date=dt.date(2021, 1, 1)
    )
    addrs = np.array([10, 60, 70, 150, 250, 400], np.uint32)
    cmp = compare_databases([open_database(a), open_database(b)], addrs)
    assert isinstance(cmp, DatabaseComparison)
    assert cmp.labels == ("a.BIN", "b.BIN")
    assert cmp.total == 6
    assert cmp.located == (5, 4)
    assert cmp.all_agree == 2  # 10 (DE) and 150 (FR)
    p = cmp.pair("b.BIN", "a.BIN")
    assert (p.agree, p.disagree, p.only_a, p.only_b, p.neither) == (2, 2, 1, 0, 1)
    assert p.agreement_rate == pytest.approx(0.5)
    assert p.same_answer_rate == pytest.approx(3 / 6)
    assert [(d.country_a, d.country_b, d.count) for d in p.disagreements] == [
        ("DE", "AT", 2),
        ("US", None, 1),
    ]
    d = cmp.to_dict()
    assert canonical_json(d) == canonical_json(cmp.to_dict())
    assert d["pairs"][0]["disagreements"][0] == {"country_a": "DE", "country_b": "AT", "count": 2}
    text = str(cmp)
    assert "DE -> AT: 2" in text
    assert "US -> (not located): 1" in text
    # strings work too; mixed families and non-addresses do not
    same = compare_databases([open_database(a), open_database(b)], ["0.0.0.10", "0.0.0.60"])
    assert same.pair("a.BIN", "b.BIN").disagree == 1
    with pytest.raises(InvalidAddressError):
        compare_databases([open_database(a), open_database(b)], ["0.0.0.10", "bogus"])
    with pytest.raises(FamilyMismatchError):
        compare_databases([open_database(a), open_database(b)], ["0.0.0.10", "2001:db8::1"])
    with pytest.raises(ValueError, match="at least two"):
        compare_databases([open_database(a)], addrs)
    dup = compare_databases([open_database(a), open_database(a)], addrs)
    assert dup.labels == ("a.BIN", "a.BIN#2")
    assert dup.pairs[0].disagree == 0


def test_compare_dated_versions_and_vendors() -> None:
    new = open_database(shared_file("ip2location/IP2LOCATION-LITE-DB1-2024-10-01.BIN"))
    old = open_database(shared_file("ip2location/IP2LOCATION-LITE-DB1-2021-05-28.BIN"))
    other = open_database(shared_file("mmdb/GeoIP2-Country-Test.mmdb"))
    addrs = np.random.default_rng(11).integers(0, 2**32, 100_000, dtype=np.uint64).astype(np.uint32)
    cmp = compare_databases([old, new, other], addrs, labels=["2021", "2024", "maxmind-test"])
    p = cmp.pair("2021", "2024")
    assert p.total == 100_000
    assert p.agree + p.disagree + p.only_a + p.only_b + p.neither == 100_000
    assert 0.9 < (p.agreement_rate or 0) < 1.0  # address space moves between builds, but not much
    assert sum(d.count for d in p.disagreements) == p.disagree + p.only_a + p.only_b
    ans_old, ans_new = old.lookup(addrs), new.lookup(addrs)
    assert p.agree == int(np.count_nonzero((ans_old == ans_new) & (ans_old != b"")))
    assert cmp.all_agree <= min(cmp.located)
    assert cmp.located[2] < cmp.located[1]  # MaxMind's test database covers a few networks only
