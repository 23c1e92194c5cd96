"""The shipped database: present, byte-identical to the real file, dated, attributed, warned about."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from conftest import shared_file
from ipevidence.defaults import (
    DATABASE_ATTRIBUTION,
    SHIPPED_DATABASE_NAME,
    database_date_warning,
    default_database_path,
    ip2location_bin_build_date,
    is_shipped_database,
    shipped_database_build_date,
)
from ipevidence.errors import DatabaseFormatError
from ipevidence.provenance import sha256_file


def test_shipped_database_is_the_real_lite_file() -> None:
    path = default_database_path()
    assert path.name == SHIPPED_DATABASE_NAME
    real = shared_file(f"ip2location/{SHIPPED_DATABASE_NAME}")
    assert sha256_file(path) == sha256_file(real)
    assert is_shipped_database(path)
    assert not is_shipped_database(real)


def test_build_dates_from_the_header() -> None:
    assert shipped_database_build_date() == dt.date(2024, 10, 1)
    older = shared_file("ip2location/IP2LOCATION-LITE-DB1-2021-05-28.BIN")
    assert ip2location_bin_build_date(older) == dt.date(2021, 5, 28)


def test_official_reader_agrees_on_the_shipped_file() -> None:
    import IP2Location

    db = IP2Location.IP2Location(str(default_database_path()))
    try:
        assert db.get_country_short("8.8.8.8") == "US"
    finally:
        db.close()


def test_bad_header(tmp_path: Path) -> None:
    short = tmp_path / "x.BIN"
    short.write_bytes(b"\x01\x02")
    with pytest.raises(DatabaseFormatError, match="too short"):
        ip2location_bin_build_date(short)
    bad = tmp_path / "y.BIN"
    bad.write_bytes(b"\x01\x02\x18\x0d\x01" + bytes(64))  # DB1, 2 columns, month 13
    with pytest.raises(DatabaseFormatError, match="invalid build date"):
        ip2location_bin_build_date(bad)


def test_date_gap_warning() -> None:
    built = dt.date(2024, 10, 1)
    assert database_date_warning(built, dt.date(2025, 3, 1)) is None
    assert database_date_warning(built, dt.date(2023, 10, 2)) is None
    text = database_date_warning(built, dt.date(2019, 6, 1))
    assert text is not None
    assert "1,949 days after the evidence date 2019-06-01" in text
    assert "--database" in text
    later = database_date_warning(built, dt.date(2026, 6, 1), shipped=False)
    assert later is not None
    assert "days before the evidence date" in later
    assert "--database" not in later
    assert database_date_warning(built, dt.date(2024, 12, 1), max_gap_days=30) is not None


def test_attribution_text() -> None:
    assert DATABASE_ATTRIBUTION == (
        "This product includes IP2Location LITE data available from https://lite.ip2location.com"
    )


def test_attribution_follows_the_database() -> None:
    from ipevidence.defaults import DBIP_ATTRIBUTION, attribution_for
    from ipevidence.provenance import DatabaseInfo

    def info(kind: str, name: str, description: str = "") -> DatabaseInfo:
        return DatabaseInfo(kind, name, "0" * 64, dt.date(2024, 1, 1), 1, frozenset({4}), description)

    assert attribution_for(info("ip2location-bin", SHIPPED_DATABASE_NAME)) == (DATABASE_ATTRIBUTION,)
    assert attribution_for(info("ip2location-bin", "IP2LOCATION-LITE-DB1.BIN")) == (DATABASE_ATTRIBUTION,)
    assert attribution_for(info("ip2location-bin", "IP-COUNTRY.BIN")) == ()  # commercial: the user's licence
    assert attribution_for(info("mmdb", "dbip-country-lite-2025-07.mmdb.gz")) == (DBIP_ATTRIBUTION,)
    assert attribution_for(info("mmdb", "GeoLite2-Country.mmdb")) == ()
