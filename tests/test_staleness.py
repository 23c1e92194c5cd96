"""The staleness table on REAL data: 15 IP2Location LITE builds 2014-2026 and GeoLite2 2018 against
the real RIPE Atlas probes of 2023, checked against an independent computation written here with
the official ``IP2Location`` reader and ``maxminddb`` (not the library's lookups or counts)."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import ipaddress
import json
from collections import Counter
from pathlib import Path

import attrs
import IP2Location
import maxminddb
import numpy as np
import pytest

from conftest import shared_file
from ipevidence.archive.source import LocalArchive
from ipevidence.catalog import DatabaseCatalog
from ipevidence.cli import main
from ipevidence.groundtruth import GroundTruth
from ipevidence.history import build_ground_truth
from ipevidence.report.staleness_figures import staleness_age_figure, staleness_heatmap
from ipevidence.staleness import GLOBAL, StalenessTable, database_age_accuracy, staleness_table
from ipevidence.synthetic.snapshots import write_snapshot_days

CSV = "atlas-snapshots-2023/probe-snapshots-2023-04-18-to-05-12.csv.gz"
COUNTRIES = ("DE", "US", "FR", "GB", "NL")


def bins() -> list[Path]:
    return sorted(
        [*shared_file("ip2location-history").glob("*.BIN"), *shared_file("ip2location").glob("*.BIN")],
        key=lambda p: p.name,
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 16 builds in one folder, as a user keeps them (plus a licence file to skip)."""
    root = tmp_path_factory.mktemp("builds")
    for p in [*bins(), shared_file("mmdb/GeoLite2-Country-2018-08-07.mmdb")]:
        (root / p.name).symlink_to(p)
    (root / "LICENSE.txt").write_text("CC BY-SA 4.0\n")
    return root


@pytest.fixture(scope="module")
def catalog(folder: Path) -> DatabaseCatalog:
    return DatabaseCatalog.open(folder)


@pytest.fixture(scope="module")
def gt_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("days")
    write_snapshot_days(shared_file(CSV), root)
    gt = build_ground_truth(
        LocalArchive(root), dt.date(2023, 4, 18), dt.date(2023, 5, 12), cache=None, progress=False
    )
    return gt.save(root / "gt.npz")


@pytest.fixture(scope="module")
def gt(gt_file: Path) -> GroundTruth:
    return GroundTruth.load(gt_file)


@pytest.fixture(scope="module")
def table(gt: GroundTruth, catalog: DatabaseCatalog) -> StalenessTable:
    return staleness_table(gt, catalog, countries=COUNTRIES)


@pytest.fixture(scope="module")
def rows(gt: GroundTruth) -> list[tuple[str, str]]:
    """(address, declared country) of every ground-truth row, from the CSV in plain Python:
    first-seen (probe, address) pairs with a globally routable address, less the rows the build's
    border step removed (each checked with shapely in test_real_snapshots.py)."""
    assert gt.removals is not None
    removed = set(zip(gt.removals.probe_id.tolist(), gt.removals.addresses_text(), strict=True))
    seen: dict[tuple[int, str], str] = {}
    with gzip.open(shared_file(CSV), "rt", encoding="utf-8") as f:
        for r in sorted(csv.DictReader(f), key=lambda r: r["snapshot_date"]):
            key = (int(r["probe_id"]), r["address_v4"])
            if ipaddress.ip_address(r["address_v4"]).is_global and key not in seen:
                seen[key] = r["country_code"]
    out = [(a, c) for (p, a), c in seen.items() if (p, a) not in removed]
    assert len(out) == len(gt) == 12_966
    assert sorted(out) == sorted(
        zip(gt.addresses_text(), [c.decode() for c in gt.country.tolist()], strict=True)
    )
    return out


def independent(rows: list[tuple[str, str]], locate: dict[str, str]) -> dict[str, tuple[int, int, int]]:
    """(addresses, located, correct) per country and "*", counted in plain Python."""
    out: Counter[tuple[str, str]] = Counter()
    for addr, cc in rows:
        got = locate[addr]
        for key in (cc, GLOBAL):
            out[(key, "n")] += 1
            out[(key, "located")] += got != ""
            out[(key, "correct")] += got == cc
    return {k: (out[(k, "n")], out[(k, "located")], out[(k, "correct")]) for k in (*COUNTRIES, GLOBAL)}


def official_ip2location(path: Path, addresses: set[str]) -> dict[str, str]:
    db = IP2Location.IP2Location(str(path))
    out = {}
    for a in addresses:
        c = db.get_country_short(a)
        out[a] = c if len(c) == 2 and c.isalpha() else ""  # "-": not located
    return out


@pytest.fixture(scope="module")
def official(rows: list[tuple[str, str]]) -> dict[str, dict[str, str]]:
    """Every ground-truth address looked up in every LITE build by the official reader."""
    addresses = {a for a, _ in rows}
    return {path.name: official_ip2location(path, addresses) for path in bins()}


def test_table_equals_the_official_readers(
    table: StalenessTable, rows: list[tuple[str, str]], official: dict[str, dict[str, str]]
) -> None:
    addresses = {a for a, _ in rows}
    assert len(table.builds) == 16
    assert table.years == (2023,)
    for path in bins():
        want = independent(rows, official[path.name])
        for country, (n, located, correct) in want.items():
            cell = table.cell(path.name, 2023, country)
            assert cell is not None
            assert (cell.addresses, cell.located, cell.correct) == (n, located, correct), (path.name, country)
            assert cell.not_located == n - located
            assert cell.accuracy.estimate == correct / located
            assert cell.accuracy_all.estimate == correct / n
            assert cell.accuracy.low is not None
            assert cell.accuracy.high is not None
            assert cell.accuracy.low <= correct / located <= cell.accuracy.high
    reader = maxminddb.open_database(str(shared_file("mmdb/GeoLite2-Country-2018-08-07.mmdb")))
    geo: dict[str, str] = {}
    for a in addresses:
        rec = reader.get(a)
        where = rec.get("country") if isinstance(rec, dict) else None
        geo[a] = str(where.get("iso_code") or "") if isinstance(where, dict) else ""
    for country, counts in independent(rows, geo).items():
        cell = table.cell("GeoLite2-Country-2018-08-07.mmdb", 2023, country)
        assert cell is not None
        assert (cell.addresses, cell.located, cell.correct) == counts, country


def test_many_years_and_ages(
    gt: GroundTruth, catalog: DatabaseCatalog, official: dict[str, dict[str, str]]
) -> None:
    """A derived multi-year ground truth (each real row moved to year 2015 + probe id % 9, same
    day of the year): every (build, year, country) cell against plain counts, and the ages."""
    years = 2015 + gt.probe_id.astype(np.int64) % 9
    dates = np.array([d.replace(year=int(y)) for d, y in zip(gt.date.tolist(), years.tolist(), strict=True)])
    many = attrs.evolve(gt, date=dates.astype("datetime64[D]"))
    ip2 = catalog.subset(product="ip2location-bin:DB1")
    t = staleness_table(many, ip2, countries=COUNTRIES)
    assert t.years == tuple(range(2015, 2024))
    texts = many.addresses_text()
    declared = [c.decode() for c in many.country.tolist()]
    for b in t.builds:
        answers = official[b.name]
        for y in t.years:
            idx = np.flatnonzero(years == y).tolist()
            for country in (*COUNTRIES, GLOBAL):
                sel = [i for i in idx if country in (GLOBAL, declared[i])]
                got = [answers[texts[i]] for i in sel]
                want = (
                    len(sel),
                    sum(g != "" for g in got),
                    sum(g == declared[i] for g, i in zip(got, sel, strict=True)),
                )
                cell = t.cell(b.name, y, country)
                assert cell is not None
                assert (cell.addresses, cell.located, cell.correct) == want, (b.name, y, country)
                assert cell.age_years == y - b.build_date.year
    for age in t.ages():
        res = t.accuracy_at_age("FR", age)
        want_cells = [c for c in t.cells if c.country == "FR" and c.age_years == age and c.located]
        assert res.cells == tuple(want_cells)
        assert res.worst is not None
        assert res.worst.accuracy.low == min(c.accuracy.low for c in want_cells if c.accuracy.low is not None)
    # restricted to a window of ground-truth years
    windowed = t.accuracy_at_age("FR", 2, first_year=2021, last_year=2023)
    assert {c.year for c in windowed.cells} <= {2021, 2022, 2023}
    assert {c.year for c in t.accuracy_at_age("FR", 2).cells} - {2021, 2022, 2023}
    one = database_age_accuracy(
        many, ip2, "FR", dt.date(2019, 7, 29), dt.date(2021, 5, 1), window=(2021, 2023)
    )
    assert [(c.build_date, c.year) for c in one.cells] == [(c.build_date, c.year) for c in windowed.cells]
    assert one.worst is not None
    assert windowed.worst is not None
    assert one.worst.accuracy == windowed.worst.accuracy
    assert min(t.ages()) == 2015 - 2026
    assert max(t.ages()) == 2023 - 2014
    heat = staleness_heatmap(t, "FR")
    assert heat is not None


def test_known_answers(table: StalenessTable) -> None:
    """The global figures of a few builds (measured here; the issue's official-reader figures)."""
    got = {
        b.name: table.cell(b.name, 2023, GLOBAL)
        for b in table.builds
        if b.name.endswith(("2014-09-28.BIN", "2016-08-28.BIN", "2019-07-29.BIN", "2022-03-29.BIN"))
    }
    figures = {n: (c.addresses, c.not_located, c.correct) for n, c in got.items() if c is not None}
    assert figures == {
        "IP2LOCATION-LITE-DB1-2014-09-28.BIN": (12_966, 1_164, 10_435),
        "IP2LOCATION-LITE-DB1-2016-08-28.BIN": (12_966, 734, 11_081),
        "IP2LOCATION-LITE-DB1-2019-07-29.BIN": (12_966, 209, 11_875),
        "IP2LOCATION-LITE-DB1-2022-03-29.BIN": (12_966, 23, 12_722),
    }


def test_accuracy_at_age(table: StalenessTable) -> None:
    de4 = table.accuracy_at_age("DE", 4)
    assert [c.build_date for c in de4.cells] == [dt.date(2019, 7, 29)]
    assert de4.worst is table.cell("IP2LOCATION-LITE-DB1-2019-07-29.BIN", 2023, "DE")
    # three 2014 builds are nine years old: the weakest lower bound is the figure
    de9 = table.accuracy_at_age("de", 9)
    assert len(de9.cells) == 3
    lows = [c.accuracy.low for c in de9.cells if c.accuracy.low is not None]
    assert de9.low == min(lows)
    # two 2024 builds judge 2023 rows backward (age -1)
    back = table.accuracy_at_age(GLOBAL, -1)
    assert {c.build_date for c in back.cells} == {dt.date(2024, 2, 8), dt.date(2024, 10, 1)}
    assert back.worst is not None
    assert back.worst.build_date == dt.date(2024, 2, 8)
    # the verdict's call: the database that placed the evidence and the evidence date
    same = table.accuracy_for("DE", dt.date(2019, 7, 29), dt.date(2023, 11, 2))
    assert same.worst is de4.worst
    wrong = table.accuracy_at_age("DE", 4, not_located="wrong")
    assert wrong.interval is not None
    assert de4.worst is not None
    assert wrong.interval == de4.worst.accuracy_all
    none = table.accuracy_at_age("DE", 6)  # no build of 2017
    assert none.worst is None
    assert none.interval is None
    assert "no ground truth" in str(none)
    assert table.ages() == (-3, -2, -1, 1, 2, 3, 4, 5, 7, 8, 9)


def test_json_is_reproducible(
    table: StalenessTable, gt: GroundTruth, catalog: DatabaseCatalog, tmp_path: Path
) -> None:
    again = staleness_table(
        gt, DatabaseCatalog.open(list(reversed([e.path for e in catalog.entries]))), countries=COUNTRIES
    )
    assert again.to_json() == table.to_json()
    path = table.write_json(tmp_path / "s.json")
    data = json.loads(path.read_text())
    assert len(data["cells"]) == len(table)
    assert data["builds"][0]["name"] == "IP2LOCATION-LITE-DB1-2014-09-28.BIN"
    assert data["ground_truth"]["rows"] == 12_966
    assert "Age (y)" in str(table.table("NL"))


def test_figures(table: StalenessTable) -> None:
    heat = staleness_heatmap(table, "DE")
    age = staleness_age_figure(table, ("*", "DE", "US"))
    assert heat is not None
    assert age is not None
    assert heat.png.startswith(b"\x89PNG")
    assert heat.name == "staleness-heatmap-de"
    assert age.png == staleness_age_figure(table, ("*", "DE", "US")).png  # type: ignore[union-attr]


def test_cli_staleness(
    table: StalenessTable, gt_file: Path, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "staleness",
            *COUNTRIES,
            "--ground-truth",
            str(gt_file),
            "--database-dir",
            str(folder),
            "--json",
            "-q",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.strip() == table.to_json().strip()
    out = tmp_path / "out"
    code = main(
        ["staleness", "DE", "--ground-truth", str(gt_file), "--database-dir", str(folder), "-o", str(out)]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "2014-09-28" in text
    assert "(DE)" in text
    assert sorted(p.name for p in out.iterdir()) == [
        "staleness-age.png",
        "staleness-heatmap-all.png",
        "staleness-heatmap-de.png",
        "staleness.json",
    ]
    assert code == 0
    # no catalogue: a usage error
    assert main(["staleness", "--ground-truth", str(gt_file)]) == 2


def test_cli_assess_picks_the_build_for_the_date(
    gt_file: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["assess", "193.0.0.78", "--date", "2023-05-01", "--ground-truth", str(gt_file), "--json"]
    main([*args, "--database-dir", str(folder), "--database-rule", "nearest-before"])
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert "IP2LOCATION-LITE-DB1-2022-03-29.BIN" in json.dumps(data)
    assert "the nearest-before build for 2023-05-01 among 16 builds" in captured.err
    main([*args, "--database-dir", str(folder), "--database-rule", "nearest"])
    captured = capsys.readouterr()
    assert "IP2LOCATION-LITE-DB1-2024-02-08.BIN" in captured.out  # 283 days after; 2022-03-29 is 398 before
    two = [*args, "--database", str(bins()[0]), "--database", str(bins()[-1])]
    main(two)
    assert "IP2LOCATION-LITE-DB1-2014-09-28.BIN" in capsys.readouterr().out


def test_cli_catalogue_errors(gt_file: Path, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--ground-truth", str(gt_file), "--database-dir", str(folder)]
    assert main(["assess", "193.0.0.78", "--date", "2023-05-01", *base, "--database-rule", "latest"]) == 2
    assert "--database-rule: unknown rule 'latest'" in capsys.readouterr().err
    # no build of the catalogue is dated on or before 2010: a data error naming the earliest build
    assert main(["assess", "193.0.0.78", "--date", "2010-05-01", *base]) == 3
    assert "earliest build 2014-09-28" in capsys.readouterr().err


def test_cli_tamper_takes_a_catalogue(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """tamper geolocates each entry with the build nearest before its day; a 2023 entry with the
    catalogue's builds of 2014-2026 uses the newest build before 2023-05-01."""
    import json

    log = tmp_path / "log.csv"
    log.write_text("time,account,address\n2023-05-01T10:00:00,alice,193.0.0.78\n")
    code = main(["tamper", str(log), "--format", "csv", "--database-dir", str(folder), "--json", "-q"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    used = {k: v for k, v in data["summary"]["entries_per_database"].items() if v}
    assert list(used) == ["IP2LOCATION-LITE-DB1-2022-03-29.BIN"], used
