"""The tamper analysis: planted cases found exactly, known answers with a fake backend and distance."""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipevidence.provenance import DatabaseInfo
from ipevidence.synthetic.logs import (
    PlanBackend,
    PlanNetwork,
    generate_log,
    plan_distance_km,
    write_csv,
    write_moodle_csv,
)
from ipevidence.tamper import ColumnMapping, LogEntry, read_csv, read_moodle
from ipevidence.tamper.analysis import TamperReport, analyse, distance_matrix
from ipevidence.tamper.findings import ImpossibleTravel

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 3, 5, 10, 0, tzinfo=UTC)


class DictBackend:
    """A ten-line fake database: exact addresses to countries."""

    def __init__(self, places: dict[str, str], built: dt.date = dt.date(2024, 1, 1), name: str = "fake.bin"):
        self._m = {int(ipaddress.IPv4Address(k)): v for k, v in places.items()}
        self.build_date = built
        self.families = frozenset({4})
        self._name = name

    def lookup(self, addresses: npt.NDArray[Any]) -> npt.NDArray[np.bytes_]:
        return np.array([self._m.get(int(a), "") for a in addresses], dtype="S2")

    def country(self, ip: str) -> str | None:
        return self._m.get(int(ipaddress.IPv4Address(ip))) or None

    def describe(self) -> DatabaseInfo:
        return DatabaseInfo("fake", self._name, "f" * 64, self.build_date, len(self._m), self.families)


KM = {frozenset(("CZ", "US")): 6000.0, frozenset(("CZ", "FR")): 250.0, frozenset(("FR", "US")): 5000.0}


def fake_km(a: npt.NDArray[np.bytes_], b: npt.NDArray[np.bytes_]) -> npt.NDArray[np.float64]:
    """CZ-SK neighbours (0), a few fixed distances; NaN for unknown pairs."""
    out = []
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        pair = frozenset((x.decode(), y.decode()))
        out.append(0.0 if x == y or pair == frozenset(("CZ", "SK")) else KM.get(pair, float("nan")))
    return np.array(out, dtype=np.float64)


PLACES = {"192.0.2.1": "CZ", "192.0.2.2": "SK", "192.0.2.3": "US", "192.0.2.4": "FR", "192.0.2.9": ""}
# 192.0.2.0/24 is documentation space: use addresses the analysis treats as public
PUBLIC = {k.replace("192.0.2.", "81.0.0."): v for k, v in PLACES.items()}


def entry(minutes: float, account: str, last: int, service: str = "mail", line: int = 0) -> LogEntry:
    return LogEntry(
        T0 + dt.timedelta(minutes=minutes), account, f"81.0.0.{last}", service, "login", line, "t.log"
    )


def run(entries: list[LogEntry], **kw: Any) -> TamperReport:
    kw.setdefault("backend", DictBackend(PUBLIC))
    kw.setdefault("distance_km", fake_km)
    return analyse(entries, **kw)


# ------------------------------------------------------------------------------ planted cases
def _analyse_synthetic(table: Any) -> TamperReport:
    return analyse(
        table,
        backend=PlanBackend(),
        distance_km=plan_distance_km,
        networks={"synthetic cloud": PlanNetwork()},
    )


@pytest.mark.parametrize(("seed", "planted"), [(1, 1), (7, 3), (2024, 2)])
def test_planted_cases_found_exactly(seed: int, planted: int) -> None:
    log = generate_log(accounts=300, entries=6000, seed=seed, planted=planted, travellers=0.2)
    report = _analyse_synthetic(log.table)
    got = {(f.kind, f.account, f.lines) for f in report.findings}
    assert got == log.expected
    assert len(log.expected) == 4 * planted
    # the cases that must not be found really are in the log, and quiet
    quiet = [c for c in log.cases if c.finding is None]
    assert {c.scenario for c in quiet} == {"neighbour_hop", "plausible_flight"}
    for c in quiet:
        assert not report.findings_for(c.account)
    # every finding voids its windows, nothing else is void
    void = {w.account for w in report.void_windows}
    assert void == {c.account for c in log.cases if c.finding is not None}


def test_planted_cases_through_files(tmp_path: Path) -> None:
    """The investigator's view: a Moodle export and a mail/VPN log in CSV, read and analysed together."""
    log = generate_log(accounts=120, entries=2500, seed=5, planted=1)
    moodle, other = tmp_path / "moodle.csv", tmp_path / "mail-vpn.csv"
    in_moodle = write_moodle_csv(log, moodle)
    in_other = write_csv(log, other, services=("mail", "vpn"))
    where = {int(x): ("moodle.csv", k + 2) for k, x in enumerate(in_moodle)}
    where.update({int(x): ("mail-vpn.csv", k + 2) for k, x in enumerate(in_other)})
    assert len(where) == len(log.table)
    reads = [read_moodle(moodle), read_csv(other, ColumnMapping("time", "account", "ip", "service", "event"))]
    assert [r.problem_count for r in reads] == [0, 0]
    assert reads[0].table.resolution == 60
    report = _analyse_synthetic(reads)
    got = {
        (f.kind, f.account, frozenset((e.entry.source, e.entry.line) for e in f.entries))
        for f in report.findings
    }
    expected = {(k, a, frozenset(where[x] for x in lines)) for k, a, lines in log.expected}
    assert got == expected
    assert [s["format"] for s in report.sources] == ["moodle", "csv"]
    assert report.table.resolution == 60


def test_explanations_are_plain_language() -> None:
    log = generate_log(accounts=60, entries=800, seed=3)
    report = _analyse_synthetic(log.table)
    kinds = {f.kind: f for f in report.findings}
    travel = kinds["impossible_travel"]
    assert "One device cannot have been in both places" in travel.explanation
    assert "900 km/h" in travel.explanation
    assert "different countries" in kinds["cross_service"].explanation
    assert "cloud, hosting or VPN" in kinds["hosting_address"].explanation
    assert "private" in kinds["non_public_address"].explanation
    assert str(travel).startswith(f"{travel.id} impossible_travel")


# ------------------------------------------------------------------------------ known answers
def test_impossible_travel_threshold_and_speed() -> None:
    # 6000 km at 900 km/h needs 6 h 40 min = 400 min; the elapsed time is lengthened by 1 s
    just_possible = [entry(0, "a", 1), entry(399 + 59 / 60, "a", 3)]
    just_impossible = [entry(0, "b", 1), entry(399 + 58 / 60, "b", 3)]
    r = run(just_possible + just_impossible, distance_margin_km=0)
    assert [(f.kind, f.account) for f in r.findings] == [("impossible_travel", "b")]
    f = r.findings[0]
    assert isinstance(f, ImpossibleTravel)
    assert f.elapsed_s == 399 * 60 + 58 + 1
    assert f.distance_km == 6000.0
    assert f.to_dict()["figures"]["countries"] == ["CZ", "US"]
    # a slower maximum speed makes the first impossible too
    r = run(just_possible + just_impossible, max_speed_kmh=800, distance_margin_km=0)
    assert sorted(f.account for f in r.findings) == ["a", "b"]
    # the default 10 km allowance for the distance table's error: 5990 km need 399.33 min
    r = run([entry(0, "c", 1), entry(399.3, "c", 3), entry(0, "d", 1), entry(399.4, "d", 3)])
    assert [f.account for f in r.findings] == ["c"]
    assert "at least 5,990 km after allowing 10 km" in r.findings[0].explanation


def test_neighbours_are_never_impossible_and_unlocated_entries_are_skipped() -> None:
    es = [entry(0, "a", 1), entry(0, "a", 2), entry(1, "a", 9), entry(2, "a", 1)]  # CZ, SK same second
    assert run(es).findings == ()
    # CZ, not located, US a minute later: the unlocated entry does not hide the jump
    es = [entry(0, "b", 1), entry(0.5, "b", 9), entry(1, "b", 3)]
    r = run(es)
    assert [f.lines for f in r.findings] == [(0, 0)]
    assert [e.country for e in r.findings[0].entries] == ["CZ", "US"]


def test_cross_service_window_and_episodes() -> None:
    es = [
        entry(0, "a", 1, "moodle", 1),
        entry(20, "a", 2, "mail", 2),
        entry(40, "a", 1, "moodle", 3),
        entry(200, "a", 2, "mail", 4),  # 160 min after the last moodle entry: outside 1 h
        entry(0, "b", 1, "moodle", 5),
        entry(10, "b", 2, "moodle", 6),  # same service: not cross-service (and neighbours)
    ]
    r = run(es)
    assert [(f.kind, f.account, f.lines) for f in r.findings] == [("cross_service", "a", (1, 2, 3))]
    f = r.findings[0]
    assert f.to_dict()["figures"] == {
        "countries": ["CZ", "SK"],
        "services": ["mail", "moodle"],
        "span_s": 2400,
        "window_s": 3600,
    }
    r = run(es, cross_service_window=dt.timedelta(hours=3))
    assert [f.lines for f in r.findings] == [(1, 2, 3, 4)]
    r = run(es, cross_service_window=dt.timedelta(minutes=10))
    assert r.findings == ()


class FakeAsns:
    def lookup(self, addresses: npt.NDArray[Any]) -> npt.NDArray[np.uint32]:
        return np.where(addresses == int(ipaddress.IPv4Address("81.0.0.4")), 16509, 2852).astype(np.uint32)


def test_hosting_by_asn_and_non_public_addresses() -> None:
    es = [
        entry(0, "a", 1, line=1),
        entry(60, "a", 4, line=2),
        entry(61, "a", 4, line=3),
        LogEntry(T0, "c", "10.1.2.3", "vpn", "", 4),
        LogEntry(T0 + dt.timedelta(hours=1), "c", "fe80::1", "vpn", "", 5),
        LogEntry(T0, "d", "192.168.1.1", "vpn", "", 6),
    ]
    r = run(es, asn_table=FakeAsns(), hosting_asns={16509})
    got = [(f.kind, f.account, f.lines) for f in r.findings]
    assert got == [
        ("hosting_address", "a", (2, 3)),
        ("non_public_address", "c", (4,)),
        ("non_public_address", "c", (5,)),
        ("non_public_address", "d", (6,)),
    ]
    h = r.findings[0]
    assert h.to_dict()["figures"]["network"] == "AS16509, a cloud/hosting network"
    assert h.entries[0].asn == 16509
    assert h.entries[0].country == "FR"
    assert [f.to_dict()["figures"]["reason"] for f in r.findings[1:]] == ["private", "link-local", "private"]
    assert [e.asn for e in r.timeline("a")] == [2852, 16509, 16509]
    # non-public addresses can be accepted (an internal service)
    r = run(es, asn_table=FakeAsns(), hosting_asns={16509}, expect_public=False)
    assert [f.kind for f in r.findings] == ["hosting_address"]


def test_dated_databases_nearest_before_else_after() -> None:
    old = DictBackend({"81.0.0.1": "CZ"}, dt.date(2024, 1, 1), "old.bin")
    new = DictBackend({"81.0.0.1": "SK"}, dt.date(2024, 6, 1), "new.bin")
    when = [
        dt.datetime(2023, 12, 1, tzinfo=UTC),
        dt.datetime(2024, 3, 1, tzinfo=UTC),
        dt.datetime(2024, 7, 1, tzinfo=UTC),
    ]
    es = [LogEntry(w, "a", "81.0.0.1", "mail", "", i + 1) for i, w in enumerate(when)]
    r = analyse(es, backends=[new, old], distance_km=fake_km)
    tl = r.timeline("a")
    assert [(e.country, e.database, e.database_after) for e in tl] == [
        ("CZ", "old.bin", True),
        ("CZ", "old.bin", False),
        ("SK", "new.bin", False),
    ]
    s = r.summary()
    assert s["entries_per_database"] == {"new.bin": 1, "old.bin": 2}
    assert s["entries_database_after"] == 1
    assert "1 entries geolocated with a database built after them" in r.windows("a")[0].notes


def test_windows_stand_void_and_no_evidence() -> None:
    es = [
        entry(0, "a", 1, line=1),
        entry(5, "a", 3, line=2),  # impossible: voids 5 March for a
        entry(60 * 24, "a", 1, line=3),  # 6 March: stands
        entry(0, "b", 9, line=4),  # not located only: no evidence
        LogEntry(T0, "c", "2001:db8::1", "", "", 5),  # IPv6 with an IPv4-only database, non-public
        LogEntry(T0, "e", "2a00:1450::1", "", "", 6),  # public IPv6, no IPv6 database: no evidence
    ]
    r = run(es)
    ws = {(w.account, w.start.date().isoformat()): w for w in r.windows()}
    assert ws[("a", "2024-03-05")].status == "void"
    assert ws[("a", "2024-03-05")].findings == ("F1",)
    assert ws[("a", "2024-03-05")].reasons == ("F1: impossible travel",)
    assert ws[("a", "2024-03-06")].status == "stands"
    assert ws[("a", "2024-03-06")].countries == ("CZ",)
    assert ws[("b", "2024-03-05")].status == "no evidence"
    assert ws[("c", "2024-03-05")].status == "void"
    assert ws[("e", "2024-03-05")].status == "no evidence"
    s = r.summary()
    assert (s["windows"], s["windows_void"], s["windows_stand"], s["windows_no_evidence"]) == (5, 2, 1, 2)
    # hourly windows: the 10:00 window of a is void, and so is the one holding 10:05
    r = run(es, window=dt.timedelta(hours=1))
    assert [w.status for w in r.windows("a")] == ["void", "stands"]


def test_json_is_deterministic_and_markdown_readable() -> None:
    log = generate_log(accounts=40, entries=400, seed=11)
    a = _analyse_synthetic(log.table).to_json()
    b = _analyse_synthetic(log.table).to_json()
    assert a == b
    data = json.loads(a)
    assert data["summary"]["findings"] == {
        "impossible_travel": 1,
        "cross_service": 1,
        "hosting_address": 1,
        "non_public_address": 1,
    }
    assert [f["id"] for f in data["findings"]] == ["F1", "F2", "F3", "F4"]
    assert len(data["accounts"]) == 40
    assert data["databases"][0]["name"] == "synthetic-plan"
    report = _analyse_synthetic(log.table)
    small = json.loads(report.to_json(timelines=False, windows=False))
    assert "accounts" not in small
    assert len(small["void_windows"]) == 4
    md = report.to_markdown()
    assert md.startswith("# Tampered evidence analysis")
    for f in report.findings:
        assert f"### {f.id}: " in md
    assert "| account | window start (UTC) |" in md
    assert "Tamper analysis of 400 entries" in str(report)


def test_argument_errors() -> None:
    es = [entry(0, "a", 1), entry(1, "a", 4)]
    with pytest.raises(TypeError):
        analyse(es, distance_km=fake_km)
    with pytest.raises(TypeError):
        analyse(es, backend=DictBackend(PUBLIC), backends=[DictBackend(PUBLIC)], distance_km=fake_km)
    with pytest.raises(ValueError, match="max_speed_kmh"):
        run(es, max_speed_kmh=0)
    with pytest.raises(ValueError, match="no distance for the country pairs"):
        run([entry(0, "a", 2), entry(1, "a", 4)])  # SK-FR is not in the fake table
    empty = run([])
    assert empty.summary()["entries"] == 0
    assert "No finding" in empty.to_markdown()
    d = distance_matrix(np.array([b"CZ", b"US"], dtype="S2"), fake_km)
    assert d.tolist() == [[0.0, 6000.0], [6000.0, 0.0]]


# ------------------------------------------------------------------------------ property test
def _slow_impossible(
    rows: list[tuple[str, int, str]], speed: float, margin_km: float = 10.0
) -> set[tuple[str, int, int]]:
    """Reference: per account, consecutive located entries (time, line order), plain Python.

    A pair is impossible when the distance less the margin (the distance table's accuracy, the
    analysis default 10 km) exceeds what ``speed`` covers in the elapsed time plus the 1 s clock
    resolution of LogEntry timestamps."""
    out = set()
    by: dict[str, list[tuple[int, int, str]]] = {}
    for line, (acc, t, c) in enumerate(rows, start=1):
        if c:
            by.setdefault(acc, []).append((t, line, c))
    for acc, items in by.items():
        items.sort()
        for (t1, l1, c1), (t2, l2, c2) in itertools.pairwise(items):
            d = fake_km(np.array([c1.encode()]), np.array([c2.encode()]))[0]
            if c1 != c2 and d - margin_km > speed * (t2 - t1 + 1) / 3600:
                out.add((acc, l1, l2))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 40_000), st.sampled_from([1, 3, 4, 9])),
        min_size=0,
        max_size=40,
    ),
    st.sampled_from([300.0, 900.0]),
)
def test_impossible_travel_matches_slow_reference(rows: list[tuple[str, int, int]], speed: float) -> None:
    es = [
        LogEntry(T0 + dt.timedelta(seconds=t), acc, f"81.0.0.{last}", "svc", "", i + 1)
        for i, (acc, t, last) in enumerate(rows)
    ]
    r = run(es, max_speed_kmh=speed) if es else None
    got = {(f.account, *f.lines) for f in r.findings} if r else set()
    ref = _slow_impossible([(acc, t, PUBLIC[f"81.0.0.{last}"]) for acc, t, last in rows], speed)
    assert got == ref


def _slow_cross_service(rows: list[tuple[str, int, str, str]], window: int) -> set[tuple[str, int]]:
    """Reference: (account, line) of entries in a cross-service pair (latest entry of each other
    service at most ``window`` s earlier, in another country)."""
    out = set()
    by: dict[str, list[tuple[int, int, str, str]]] = {}
    for line, (acc, t, svc, c) in enumerate(rows, start=1):
        if c:
            by.setdefault(acc, []).append((t, line, svc, c))
    for acc, items in by.items():
        items.sort()
        for k, (t, line, svc, c) in enumerate(items):
            last: dict[str, tuple[int, int, str]] = {}
            for t0, l0, s0, c0 in items[:k]:
                last[s0] = (t0, l0, c0)
            for s0, (t0, l0, c0) in last.items():
                if s0 != svc and c0 != c and t - t0 <= window:
                    out.update({(acc, l0), (acc, line)})
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),
            st.integers(0, 20_000),
            st.sampled_from(["moodle", "mail", "vpn"]),
            st.sampled_from([1, 3, 4, 9]),
        ),
        max_size=30,
    )
)
def test_cross_service_matches_slow_reference(rows: list[tuple[str, int, str, int]]) -> None:
    es = [
        LogEntry(T0 + dt.timedelta(seconds=t), acc, f"81.0.0.{last}", svc, "", i + 1)
        for i, (acc, t, svc, last) in enumerate(rows)
    ]
    got: set[tuple[str, int]] = set()
    if es:
        r = run(es)
        got = {(f.account, line) for f in r.findings if f.kind == "cross_service" for line in f.lines}
    ref = _slow_cross_service([(acc, t, svc, PUBLIC[f"81.0.0.{last}"]) for acc, t, svc, last in rows], 3600)
    assert got == ref


def test_generate_log_refuses_a_period_too_short_for_planted_cases() -> None:
    from ipevidence.synthetic.logs import generate_log

    with pytest.raises(ValueError, match="days must be at least 9"):
        generate_log(accounts=12, entries=120, days=5, seed=2)
    assert generate_log(accounts=12, entries=120, days=5, seed=2, planted=0) is not None


# ------------------------------------------------------------------------------ distance territory
def test_distance_territory_with_the_shipped_tables() -> None:
    places = {"81.0.0.1": "FR", "81.0.0.2": "BR", "81.0.0.3": "JP", "81.0.0.4": "GF"}
    backend = DictBackend(places)
    es = [
        entry(0, "a", 1),
        entry(30, "a", 2),  # FR -> BR: neighbours through French Guiana
        entry(0, "b", 1),
        entry(30, "b", 3),  # FR -> JP: impossible either way
        entry(0, "c", 4),
        entry(30, "c", 2),  # GF -> BR: neighbours in both tables
    ]
    whole = analyse(es, backend=backend)
    assert [(f.account, f.lines) for f in whole.findings] == [("b", (0, 0))]
    assert whole.parameters.distance_territory == "all"
    assert whole.parameters.to_dict()["distance_territory"] == "all"
    w = whole.findings[0]
    assert isinstance(w, ImpossibleTravel)
    assert w.whole_country_km is None
    assert "main territories" not in w.explanation
    assert w.to_dict()["figures"]["distance_territory"] == "all"
    main = analyse(es, backend=backend, distance_territory="main")
    got = {f.account: f for f in main.findings}
    assert sorted(got) == ["a", "b"]
    a, b = got["a"], got["b"]
    assert isinstance(a, ImpossibleTravel)
    assert isinstance(b, ImpossibleTravel)
    assert a.whole_country_km == 0.0
    assert "this finding rests on leaving the overseas parts out" in a.explanation
    assert b.whole_country_km is not None
    assert b.whole_country_km > 1000
    assert b.distance_km >= b.whole_country_km
    assert "rests on" not in b.explanation
    assert "main territories" in b.explanation
    assert b.to_dict()["figures"]["distance_territory"] == "main"
    assert json.loads(main.to_json())["parameters"]["distance_territory"] == "main"


def test_distance_territory_errors() -> None:
    with pytest.raises(ValueError, match="distance_territory"):
        run([entry(0, "a", 1)], distance_territory="main")  # with distance_km=: a custom function
    with pytest.raises(ValueError, match="distance_territory"):
        analyse([entry(0, "a", 1)], backend=DictBackend(PUBLIC), distance_territory="overseas")  # type: ignore[arg-type]
