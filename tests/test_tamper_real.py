"""The tamper analysis on real data: IP2Location LITE databases and the shipped country distances."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from conftest import shared_file
from ipevidence.addresses import format_ipv4
from ipevidence.backends import IP2LocationBackend
from ipevidence.networks import DEFAULT_CLOUD_ASNS, AsnTable, CloudRanges
from ipevidence.synthetic.logs import PlanNetwork, generate_log
from ipevidence.tamper import LogEntry
from ipevidence.tamper.analysis import analyse
from ipevidence.tamper.findings import ImpossibleTravel


@pytest.fixture(scope="module")
def lite() -> tuple[IP2LocationBackend, IP2LocationBackend]:
    old = IP2LocationBackend(shared_file("ip2location/IP2LOCATION-LITE-DB1-2021-05-28.BIN"))
    new = IP2LocationBackend(shared_file("ip2location/IP2LOCATION-LITE-DB1-2024-10-01.BIN"))
    return old, new


def test_planted_cases_with_real_database_and_real_distances(
    lite: tuple[IP2LocationBackend, IP2LocationBackend],
) -> None:
    old, new = lite
    # addresses drawn from the 2024 database's own ranges; entries after its build date
    log = generate_log(
        accounts=400,
        entries=8000,
        seed=42,
        planted=2,
        travellers=0.2,
        start=dt.datetime(2024, 11, 1, tzinfo=dt.timezone.utc),
        address_source=new,
    )
    report = analyse(log.table, backends=[old, new], networks={"AWS eu-central-1 (sample)": PlanNetwork()})
    assert report.summary()["entries_per_database"] == {
        "IP2LOCATION-LITE-DB1-2021-05-28.BIN": 0,
        "IP2LOCATION-LITE-DB1-2024-10-01.BIN": len(log.table) - 2,  # two private addresses
    }
    # the database places every planted country as planned (the cloud block 52.28/16 is in DE)
    for name, home in log.home.items():
        tl = report.timeline(name)
        assert {e.country for e in tl} >= {home}
    got = {(f.kind, f.account, f.lines) for f in report.findings}
    assert got == log.expected
    assert "border" in report.parameters.distance
    assert "Natural Earth" in report.parameters.distance


def test_dated_real_databases(lite: tuple[IP2LocationBackend, IP2LocationBackend]) -> None:
    old, new = lite
    when = [dt.datetime(y, 6, 1, tzinfo=dt.timezone.utc) for y in (2020, 2022, 2025)]
    es = [LogEntry(w, "a", "8.8.8.8", "web", "", i + 1) for i, w in enumerate(when)]
    r = analyse(es, backends=[new, old])
    assert [(e.database, e.database_after, e.country) for e in r.timeline("a")] == [
        ("IP2LOCATION-LITE-DB1-2021-05-28.BIN", True, "US"),
        ("IP2LOCATION-LITE-DB1-2021-05-28.BIN", False, "US"),
        ("IP2LOCATION-LITE-DB1-2024-10-01.BIN", False, "US"),
    ]
    assert np.count_nonzero(r.database_after) == 1


def test_real_asn_table_and_provider_ranges(lite: tuple[IP2LocationBackend, IP2LocationBackend]) -> None:
    old, new = lite
    asns = AsnTable.load(shared_file("pyasn/ipasn_20140513.dat.gz"))
    ranges = CloudRanges.load(
        [
            shared_file("cloud-ranges-2022-12-31/aws-ip-ranges.json"),
            shared_file("cloud-ranges-2022-12-31/google-cloud-ip-ranges.json"),
        ]
    )
    starts, _ = old.ranges_for("CZ")
    home = format_ipv4(starts[:1] + 1)[0]
    day = dt.datetime(2022, 12, 1, 8, tzinfo=dt.timezone.utc)
    addresses = [home, "8.8.8.8", "52.28.0.10", home]
    es = [
        LogEntry(day + dt.timedelta(days=i), "alice", a, "mail", "login", i + 1)
        for i, a in enumerate(addresses)
    ]
    r = analyse(es, backends=[old, new], asn_table=asns, networks={"cloud ranges 2022-12-31": ranges})
    got = [(f.kind, f.lines, f.to_dict()["figures"]["network"]) for f in r.findings]
    assert got == [
        ("hosting_address", (2,), "AS15169 (Google), a cloud/hosting network"),
        ("hosting_address", (3,), "cloud ranges 2022-12-31: Amazon Web Services"),
    ]
    assert r.parameters.hosting_asns == frozenset(DEFAULT_CLOUD_ASNS)
    tl = r.timeline("alice")
    assert [e.database for e in tl] == ["IP2LOCATION-LITE-DB1-2021-05-28.BIN"] * 4
    assert tl[1].country == "US"
    assert tl[2].asn is None  # not announced in the 2014 routing table: the ranges file catches it
    statuses = [w.status for w in r.windows("alice")]
    assert statuses == ["stands", "void", "void", "stands"]


def test_overseas_hop_found_only_with_main_territory_distances(
    lite: tuple[IP2LocationBackend, IP2LocationBackend],
) -> None:
    """France -> Brazil 30 minutes apart: France borders Brazil through French Guiana, so the
    default whole-country distance (0 km) never finds it; main territories (about 6,360 km) do."""
    _, new = lite
    fr = format_ipv4(new.ranges_for("FR")[0][:1] + 1)[0]
    br = format_ipv4(new.ranges_for("BR")[0][:1] + 1)[0]
    de = format_ipv4(new.ranges_for("DE")[0][:1] + 1)[0]
    at = format_ipv4(new.ranges_for("AT")[0][:1] + 1)[0]
    t0 = dt.datetime(2024, 11, 5, 9, 0, tzinfo=dt.timezone.utc)
    half = dt.timedelta(minutes=30)
    es = [
        LogEntry(t0, "marie", fr, "mail", "login", 1),
        LogEntry(t0 + half, "marie", br, "mail", "login", 2),
        LogEntry(t0, "hans", de, "mail", "login", 3),
        LogEntry(t0 + half, "hans", at, "mail", "login", 4),
    ]
    whole = analyse(es, backend=new)
    assert [e.country for e in whole.timeline("marie")] == ["FR", "BR"]
    assert [e.country for e in whole.timeline("hans")] == ["DE", "AT"]
    assert whole.findings == ()
    assert whole.parameters.distance_territory == "all"
    assert "whole countries" in whole.parameters.distance
    main = analyse(es, backend=new, distance_territory="main")
    assert [(f.kind, f.account, f.lines) for f in main.findings] == [("impossible_travel", "marie", (1, 2))]
    f = main.findings[0]
    assert isinstance(f, ImpossibleTravel)
    assert f.distance_km > 5000
    assert f.whole_country_km == 0.0
    assert f.distance_territory == "main"
    assert "main territories" in f.explanation
    assert "Between the whole countries, overseas parts included, the distance is 0 km" in f.explanation
    assert f.to_dict()["figures"]["whole_country_km"] == 0.0
    assert main.parameters.distance_territory == "main"
    assert "main territories" in main.parameters.distance
    assert main.to_dict()["parameters"]["distance_territory"] == "main"
    assert "distance territory: main territories" in main.to_markdown()
    assert [w.status for w in main.windows("marie")] == ["void"]
    assert [w.status for w in main.windows("hans")] == ["stands"]
