"""DatabaseCatalog on the real IP2Location LITE builds 2014-2026 and GeoLite2 2018, and geolocating
a ground truth with it (fixed and contemporary modes) against the official IP2Location reader."""

from __future__ import annotations

import datetime as dt
import shutil
import struct
from pathlib import Path

import IP2Location
import maxminddb
import numpy as np
import pytest

import ipevidence
from conftest import shared_file
from ipevidence.addresses import format_ipv4
from ipevidence.catalog import DatabaseCatalog, geolocate
from ipevidence.errors import DatabaseFormatError, DatabaseSelectionError
from ipevidence.groundtruth import GroundTruth
from ipevidence.jsonutil import canonical_json

# the build dates the data set's README gives for the 15 files (its file names agree)
BUILD_DATES = [
    "2014-09-28", "2014-12-04", "2014-12-30", "2015-05-13", "2016-08-28", "2019-07-29", "2020-11-26",
    "2020-12-28", "2021-03-14", "2021-05-28", "2022-03-29", "2024-02-08", "2024-10-01", "2025-10-15",
    "2026-01-08",
]  # fmt: skip
GEOLITE = "mmdb/GeoLite2-Country-2018-08-07.mmdb"


def bin_paths() -> list[Path]:
    out = []
    for d in BUILD_DATES:
        folder = "ip2location" if d in ("2021-05-28", "2024-10-01") else "ip2location-history"
        out.append(shared_file(f"{folder}/IP2LOCATION-LITE-DB1-{d}.BIN"))
    return out


def header_date(path: Path) -> dt.date:
    """Independent: bytes 2-4 of the BIN header are year - 2000, month, day."""
    year, month, day = struct.unpack("<BBB", path.read_bytes()[2:5])
    return dt.date(2000 + year, month, day)


@pytest.fixture(scope="module")
def catalog() -> DatabaseCatalog:
    return DatabaseCatalog.open([*bin_paths(), shared_file(GEOLITE)])


def test_exported_lazily() -> None:
    assert "DatabaseCatalog" in ipevidence.__all__
    assert ipevidence.DatabaseCatalog is DatabaseCatalog


def test_dates_every_real_build(catalog: DatabaseCatalog) -> None:
    assert len(catalog) == 16
    by_name = {e.name: e for e in catalog.entries}
    for path in bin_paths():
        e = by_name[path.name]
        assert e.build_date == header_date(path)
        assert e.build_date.isoformat() in path.name
        assert e.product == "ip2location-bin:DB1"
        assert e.families == frozenset({4})
    geo = by_name["GeoLite2-Country-2018-08-07.mmdb"]
    meta = maxminddb.open_database(str(shared_file(GEOLITE))).metadata()
    assert meta.build_epoch == 1533684098
    assert geo.build_date == dt.datetime.fromtimestamp(meta.build_epoch, dt.timezone.utc).date()
    assert geo.build_date == dt.date(2018, 8, 7)
    assert geo.product == "mmdb:GeoLite2-Country"
    assert geo.families == frozenset({4, 6})
    # iteration: backends in build-date order
    dates = [b.build_date for b in catalog]
    assert dates == sorted(dates)
    assert [d.isoformat() for d in dates] == sorted([*BUILD_DATES, "2018-08-07"])
    assert catalog.products == ("ip2location-bin:DB1", "mmdb:GeoLite2-Country")


def test_folder_duplicates_misleading_names_and_skipped_files(tmp_path: Path) -> None:
    paths = bin_paths()
    # a copy named as if it were a 2026 build: dated by its header (2014-09-28), and a duplicate
    shutil.copy(paths[0], tmp_path / "IP2LOCATION-LITE-DB1-2026-12-31.BIN")
    shutil.copy(paths[0], tmp_path / paths[0].name)
    shutil.copy(paths[-1], tmp_path / "latest.bin")
    (tmp_path / "README.txt").write_text("downloaded from the vendor's archive\n")
    cat = DatabaseCatalog.from_directory(tmp_path)
    assert [e.build_date.isoformat() for e in cat.entries] == ["2014-09-28", "2026-01-08"]
    assert len(cat.duplicates) == 1
    dup = cat.duplicates[0]
    assert {dup.name, dup.same_as} == {"IP2LOCATION-LITE-DB1-2026-12-31.BIN", paths[0].name}
    assert [s.name for s in cat.skipped] == ["README.txt"]
    d = cat.describe()
    assert d["duplicates"][0]["sha256"] == cat.entries[0].sha256
    assert d["products"] == {"ip2location-bin:DB1": ["2014-09-28", "2026-01-08"]}
    # an explicitly named file that is not a database is an error, not a skip
    with pytest.raises(DatabaseFormatError):
        DatabaseCatalog.open([tmp_path / "README.txt"])
    with pytest.raises(DatabaseFormatError):
        DatabaseCatalog.open([tmp_path / "nothing-here.BIN"])


def test_csv_ranges_take_a_given_date(tmp_path: Path) -> None:
    (tmp_path / "own-2020.csv").write_text("start,end,country\n1.0.0.0,1.0.0.255,AU\n8.8.8.0,8.8.8.255,US\n")
    (tmp_path / "stated.csv").write_text("# build_date: 2019-03-01\n1.0.0.0,1.0.0.255,CN\n")
    cat = DatabaseCatalog.open(tmp_path, csv_dates={"own-2020.csv": dt.date(2020, 6, 30)})
    assert [(e.name, e.build_date) for e in cat.entries] == [
        ("stated.csv", dt.date(2019, 3, 1)),
        ("own-2020.csv", dt.date(2020, 6, 30)),
    ]
    assert cat.at("2020-01-01").country("1.0.0.7") == "CN"
    assert cat.at("2021-01-01").country("1.0.0.7") == "AU"
    # without a date the undated CSV is skipped from a folder (with the reason), refused by name
    assert [s.name for s in DatabaseCatalog.open(tmp_path).skipped] == ["own-2020.csv"]
    with pytest.raises(DatabaseFormatError):
        DatabaseCatalog.open([tmp_path / "own-2020.csv"])


def test_describe_is_reproducible(catalog: DatabaseCatalog) -> None:
    other = DatabaseCatalog.open([shared_file(GEOLITE), *reversed(bin_paths())])
    assert canonical_json(other.describe()) == canonical_json(catalog.describe())
    assert "/" not in canonical_json([b["name"] for b in catalog.describe()["builds"]])


def test_at_rules(catalog: DatabaseCatalog) -> None:
    ip2 = catalog.subset(product="ip2location-bin:DB1")
    assert len(ip2) == 15

    def name(date: str, rule: str = "nearest-before", **kw: object) -> str:
        return ip2.at(date, rule, **kw).describe().name  # type: ignore[arg-type]

    assert name("2019-07-29") == "IP2LOCATION-LITE-DB1-2019-07-29.BIN"  # built that day: available
    assert name("2019-07-28") == "IP2LOCATION-LITE-DB1-2016-08-28.BIN"
    assert name("2023-06-01") == "IP2LOCATION-LITE-DB1-2022-03-29.BIN"
    assert name("2030-01-01") == "IP2LOCATION-LITE-DB1-2026-01-08.BIN"
    assert name("2019-07-28", "nearest") == "IP2LOCATION-LITE-DB1-2019-07-29.BIN"
    assert name("2023-06-01", "nearest") == "IP2LOCATION-LITE-DB1-2024-02-08.BIN"
    # 2014-12-17 is 13 days after 2014-12-04 and 13 days before 2014-12-30: the earlier wins
    assert name("2014-12-17", "nearest") == "IP2LOCATION-LITE-DB1-2014-12-04.BIN"
    assert name("2010-01-01", "nearest") == "IP2LOCATION-LITE-DB1-2014-09-28.BIN"
    with pytest.raises(DatabaseSelectionError, match="on or before 2014-01-01"):
        ip2.at("2014-01-01")
    with pytest.raises(LookupError):  # the typed error is also a LookupError
        ip2.at(dt.date(2014, 9, 27))
    assert name("2014-01-01", fallback="earliest") == "IP2LOCATION-LITE-DB1-2014-09-28.BIN"
    explicit = bin_paths()[5]
    assert name("2025-01-01", str(explicit)) == explicit.name
    with pytest.raises(ValueError, match="unknown rule"):
        ip2.at("2020-01-01", "latest")
    # the whole catalogue mixes products: GeoLite2 is the nearest build before 2019-01-01
    assert catalog.at("2019-01-01").describe().name == "GeoLite2-Country-2018-08-07.mmdb"
    assert catalog.at("2019-01-01", product="ip2location-bin:DB1").describe().name.endswith("2016-08-28.BIN")
    # IPv6: only GeoLite2 covers it
    assert catalog.at("2026-01-01", family=6).describe().name == "GeoLite2-Country-2018-08-07.mmdb"
    with pytest.raises(DatabaseSelectionError, match="on or before"):
        catalog.at("2017-01-01", family=6)


def test_explicit_file_outside_the_catalogue(tmp_path: Path) -> None:
    cat = DatabaseCatalog.open(bin_paths()[:2])
    with pytest.raises(DatabaseSelectionError, match="not in the catalogue"):
        cat.at("2015-01-01", str(bin_paths()[3]))


def test_same_build_date_different_files_is_ambiguous() -> None:
    cat = DatabaseCatalog.open(
        [shared_file("mmdb/GeoLite2-Country-Test.mmdb"), shared_file("mmdb/GeoIP2-Country-Test.mmdb")]
    )
    assert cat.build_dates[0] == cat.build_dates[1]
    with pytest.raises(DatabaseSelectionError, match="share the build date"):
        cat.at("2027-01-01")
    assert cat.at("2027-01-01", product="mmdb:GeoIP2-Country").describe().name == "GeoIP2-Country-Test.mmdb"


# ------------------------------------------------------------------------ geolocating


def ground_truth_of(addresses: np.ndarray, dates: np.ndarray, countries: np.ndarray) -> GroundTruth:
    n = len(addresses)
    day = dates.astype("datetime64[D]")
    return GroundTruth(
        family=4,
        probe_id=np.arange(n, dtype=np.int32),
        address=addresses.astype(np.uint32),
        country=countries.astype("S2"),
        latitude=np.zeros(n),
        longitude=np.zeros(n),
        asn=np.ones(n, np.uint32),
        date=day,
        first_seen=day,
        last_seen=day,
    )


@pytest.fixture(scope="module")
def mixed_years() -> GroundTruth:
    rng = np.random.default_rng(13)
    n = 6000
    addr = rng.integers(1 << 24, 224 << 24, n, dtype=np.uint64).astype(np.uint32)
    start = np.datetime64("2014-10-01")
    days = start + rng.integers(0, (np.datetime64("2026-06-30") - start).astype(int), n)
    return ground_truth_of(addr, days, np.full(n, b"DE"))


def test_contemporary_mode_matches_the_official_reader(
    catalog: DatabaseCatalog, mixed_years: GroundTruth
) -> None:
    ip2 = catalog.subset(product="ip2location-bin:DB1")
    geo = geolocate(mixed_years, ip2, mode="contemporary")
    readers = {p.name: IP2Location.IP2Location(str(p)) for p in bin_paths()}
    built = [(dt.date.fromisoformat(d), p.name) for d, p in zip(BUILD_DATES, bin_paths(), strict=True)]
    want_counts: dict[str, int] = {}
    ips = format_ipv4(mixed_years.address)
    got = [c.decode() for c in geo.located.tolist()]
    for i, (ip, day) in enumerate(zip(ips, mixed_years.date.tolist(), strict=True)):
        # plain Python: the latest build dated on or before the row's date
        name = [n for d, n in built if d <= day][-1]
        want_counts[name] = want_counts.get(name, 0) + 1
        c = readers[name].get_country_short(ip)
        assert got[i] == (c if len(c) == 2 and c.isalpha() else ""), (ip, day, name)
        assert int(geo.age_days[i]) == (day - dict((n, d) for d, n in built)[name]).days
    assert geo.counts_per_build() == want_counts
    assert sum(b.rows for b in geo.builds) == len(mixed_years)
    assert geo.database.kind == "catalog"
    assert geo.fallback_rows == 0
    lgt = geo.located_ground_truth(mixed_years)
    assert lgt.database == geo.database
    assert np.array_equal(lgt.located, geo.located)
    d = geo.to_dict()
    assert [b["rows"] for b in d["builds"]] == [want_counts.get(p.name, 0) for p in bin_paths()]
    assert canonical_json(d) == canonical_json(geolocate(mixed_years, ip2).to_dict())


def test_fixed_mode_is_one_build(catalog: DatabaseCatalog, mixed_years: GroundTruth) -> None:
    ip2 = catalog.subset(product="ip2location-bin:DB1")
    geo = geolocate(mixed_years, ip2, mode="fixed")  # the build before the last row's date
    assert geo.counts_per_build() == {"IP2LOCATION-LITE-DB1-2026-01-08.BIN": len(mixed_years)}
    backend = ip2.at("2026-06-30")
    assert np.array_equal(geo.located, backend.lookup(mixed_years.address))
    assert geo.database == backend.describe()
    old = geolocate(mixed_years, ip2, mode="fixed", date="2016-01-01")
    assert old.counts_per_build() == {"IP2LOCATION-LITE-DB1-2015-05-13.BIN": len(mixed_years)}
    explicit = geolocate(mixed_years, ip2, mode="fixed", rule=str(bin_paths()[0]))
    assert explicit.rule == f"file:{bin_paths()[0].name}"
    assert explicit.counts_per_build() == {bin_paths()[0].name: len(mixed_years)}


def test_fallback_and_mixed_products(catalog: DatabaseCatalog) -> None:
    gt = ground_truth_of(
        np.array([0x08080808, 0x01010101, 0x5D5E0001], np.uint64),
        np.array(["2014-01-05", "2018-09-01", "2023-01-01"], "datetime64[D]"),
        np.array([b"US", b"AU", b"CZ"]),
    )
    ip2 = catalog.subset(product="ip2location-bin:DB1")
    with pytest.raises(DatabaseSelectionError):
        geolocate(gt, ip2)
    geo = geolocate(gt, ip2, fallback="earliest")
    assert geo.fallback_rows == 1
    assert geo.builds[0].fallback_rows == 1
    assert geo.builds[0].rows == 1
    with pytest.raises(DatabaseSelectionError, match="different products"):
        geolocate(gt, catalog, fallback="earliest")
    mixed = geolocate(gt, catalog, fallback="earliest", allow_mixed_products=True)
    assert mixed.counts_per_build()["GeoLite2-Country-2018-08-07.mmdb"] == 1
