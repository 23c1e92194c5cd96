"""The ground-truth steps on hand-built day snapshots: daily filter, linking, most distant
selection, unreliable probes, the reference-versus-default case, the whole in-memory pipeline."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Collection, Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pytest

from conftest import assert_same_columns
from ipevidence.addresses import format_ipv4, format_ipv6, ipv4_column, ipv6_column
from ipevidence.archive.snapshot import DaySnapshot, ProbeStatus
from ipevidence.countries import encode_countries
from ipevidence.errors import FamilyMismatchError
from ipevidence.groundtruth import GroundTruth
from ipevidence.history import (
    DAILY_RULES,
    DailyRecords,
    GroundTruthParams,
    History,
    Linker,
    daily_filter,
    ground_truths_from_snapshots,
    link_days,
    remove_probes,
    select_most_distant,
    unreliable_probes,
    unreliable_probes_after_dedup,
)

D0 = dt.date(2020, 1, 1)
C = int(ProbeStatus.CONNECTED)
Row = tuple[int, int, str | None, float, float, str | None, int]  # probe, status, cc, lat, lon, ip, asn


def day(i: int) -> dt.date:
    return D0 + dt.timedelta(days=i)


def snapshot(
    d: dt.date, rows: Sequence[Row], v6: Sequence[tuple[str | None, int]] | None = None
) -> DaySnapshot:
    n = len(rows)
    ipv4, ok4 = ipv4_column([r[5] for r in rows])
    if v6 is None:
        v6 = [(None, 0)] * n
    ipv6, ok6 = ipv6_column([a for a, _ in v6])
    return DaySnapshot(
        day=d,
        probe_id=np.array([r[0] for r in rows], np.int32),
        status=np.array([r[1] for r in rows], np.uint8),
        country=encode_countries([r[2] for r in rows]),
        latitude=np.array([r[3] for r in rows], np.float64),
        longitude=np.array([r[4] for r in rows], np.float64),
        ipv4=ipv4,
        ipv4_valid=ok4,
        asn_v4=np.array([r[6] for r in rows], np.uint32),
        ipv6=ipv6,
        ipv6_valid=ok6,
        asn_v6=np.array([a for _, a in v6], np.uint32),
        counts={"records": n},
    )


def records(probe_day_addr: Sequence[tuple[int, int, str]], country: str = "DE") -> list[DailyRecords]:
    """Daily records (one DailyRecords per day) from (probe, day index, dotted quad) triples."""
    by_day: dict[int, list[tuple[int, str]]] = {}
    for p, d, a in probe_day_addr:
        by_day.setdefault(d, []).append((p, a))
    out = []
    for d, items in sorted(by_day.items()):
        addr, _ = ipv4_column([a for _, a in items])
        n = len(items)
        out.append(
            DailyRecords(
                4,
                np.array([p for p, _ in items], np.int32),
                addr,
                encode_countries([country] * n),
                np.full(n, 50.0),
                np.full(n, 10.0),
                np.full(n, 3320, np.uint32),
                np.full(n, np.datetime64(day(d), "D")),
            )
        )
    return out


def triples(gt: GroundTruth) -> set[tuple[int, str, str]]:
    addrs = format_ipv4(gt.address) if gt.family == 4 else format_ipv6(gt.address)
    return {(int(p), a, str(d)) for p, a, d in zip(gt.probe_id.tolist(), addrs, gt.date, strict=False)}


def dates(col: npt.NDArray[Any]) -> list[str]:
    return [str(d) for d in col]


# ------------------------------------------------------------------------------------ daily filter


def test_daily_filter_rules_in_order_with_identities() -> None:
    rows: list[Row] = [
        (1, C, "DE", 50.1, 8.6, "8.8.8.8", 3320),  # kept
        (2, int(ProbeStatus.DISCONNECTED), "DE", 50.1, 8.6, "8.8.4.4", 3320),  # status
        (3, C, "DE", float("nan"), 8.6, "9.9.9.9", 3320),  # coordinates
        (4, C, "DE", 91.0, 8.6, "9.9.9.10", 3320),  # coordinates (range)
        (5, C, "ZZ", 50.0, 8.0, "9.9.9.11", 3320),  # country unknown
        (6, C, None, 50.0, 8.0, "9.9.9.12", 3320),  # country missing
        (7, C, "DE", 50.0, 8.0, "10.0.0.1", 3320),  # address private
        (8, C, "DE", 50.0, 8.0, None, 3320),  # address missing
        (9, C, "DE", 50.0, 8.0, "1.2.3.4", 0),  # asn missing
        (10, int(ProbeStatus.ABANDONED), None, float("nan"), 8.0, None, 0),  # fails all: counted once
        (11, C, "fr", -10.0, 170.0, "100.64.0.1", 5),  # shared space (CGN)
    ]
    res = daily_filter(snapshot(day(0), rows), 4)
    assert res.kept.probe_id.tolist() == [1]
    assert format_ipv4(res.kept.address) == ["8.8.8.8"]
    assert res.kept.day.tolist() == [day(0)]
    expected = {
        2: "status",
        3: "coordinates",
        4: "coordinates",
        5: "country",
        6: "country",
        7: "address",
        8: "address",
        9: "asn",
        10: "status",
        11: "address",
    }
    got = dict(zip(res.removed.probe_id.tolist(), res.removed.reason.tolist(), strict=False))
    assert got == expected
    assert res.counts == {
        "records": 11,
        "status": 2,
        "coordinates": 2,
        "country": 2,
        "address": 3,
        "asn": 1,
        "kept": 1,
        "asn_filled": 0,
    }
    assert "removed status 2" in str(res)


def test_daily_filter_asn_rule_optional_and_filled_from_table() -> None:
    rows: list[Row] = [(1, C, "DE", 50.0, 8.0, "1.2.3.4", 0), (2, C, "DE", 50.0, 8.0, "5.6.7.8", 0)]

    class Table:
        def lookup(self, col: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
            return np.where(col == ipv4_column(["1.2.3.4"])[0][0], 15169, 0).astype(np.uint32)

    assert len(daily_filter(snapshot(day(0), rows), 4, require_asn=False).kept) == 2
    res = daily_filter(snapshot(day(0), rows), 4, asn_table=Table())
    assert res.kept.probe_id.tolist() == [1]
    assert res.kept.asn.tolist() == [15169]
    assert res.counts["asn_filled"] == 1
    assert res.counts["asn"] == 1


def test_daily_filter_ipv6_family() -> None:
    rows: list[Row] = [(1, C, "DE", 50.0, 8.0, "8.8.8.8", 3320)] * 4
    rows = [(i + 1, *r[1:]) for i, r in enumerate(rows)]
    v6 = [("2a00:1450::1", 15169), ("fe80::1", 15169), ("2001:db8::1", 1), ("2a00:1450::2", 0)]
    res = daily_filter(snapshot(day(0), rows, v6), 6)
    assert res.kept.address.dtype == np.dtype("S16")
    assert format_ipv6(res.kept.address) == ["2a00:1450::1"]
    assert dict(zip(res.removed.probe_id.tolist(), res.removed.reason.tolist(), strict=False)) == {
        2: "address",
        3: "address",
        4: "asn",
    }
    with pytest.raises(ValueError, match="family"):
        daily_filter(snapshot(day(0), rows, v6), 5)


# ------------------------------------------------------------------------------------ most distant


def test_per_run_first_seen_last_seen_on_a_returning_address() -> None:
    # probe 1: A A B B A  (days 0..4); probe 2: C on days 0 and 4 only (missing days do not break runs)
    seq = [(1, 0, "1.1.1.1"), (1, 1, "1.1.1.1"), (1, 2, "2.2.2.2"), (1, 3, "2.2.2.2"), (1, 4, "1.1.1.1")]
    seq += [(2, 0, "3.3.3.3"), (2, 4, "3.3.3.3")]
    hist = link_days(records(seq))
    assert hist.records == 7
    assert hist.days == 5
    per_run = select_most_distant(hist, "per-run")
    assert triples(per_run) == {
        (1, "1.1.1.1", "2020-01-01"),
        (1, "2.2.2.2", "2020-01-03"),
        (1, "1.1.1.1", "2020-01-05"),
        (2, "3.3.3.3", "2020-01-01"),
    }
    p1 = per_run.select(per_run.probe_id == 1)
    assert dates(p1.first_seen) == ["2020-01-01", "2020-01-03", "2020-01-05"]
    assert dates(p1.last_seen) == ["2020-01-02", "2020-01-04", "2020-01-05"]
    first = select_most_distant(hist, "first-seen")
    assert triples(first) == {
        (1, "1.1.1.1", "2020-01-01"),
        (1, "2.2.2.2", "2020-01-03"),
        (2, "3.3.3.3", "2020-01-01"),
    }
    a = first.select((first.probe_id == 1) & (first.address == ipv4_column(["1.1.1.1"])[0][0]))
    assert dates(a.last_seen) == ["2020-01-05"]
    last = select_most_distant(hist, "last-seen")
    assert triples(last) == {
        (1, "1.1.1.1", "2020-01-05"),
        (1, "2.2.2.2", "2020-01-04"),
        (2, "3.3.3.3", "2020-01-05"),
    }
    with pytest.raises(ValueError, match="policy"):
        select_most_distant(hist, "most-recent")


def test_paper_table2_reading() -> None:
    """Table 2: one probe, five addresses in consecutive runs, oldest to newest."""
    addrs = ["37.221.246.123", "37.221.246.116", "95.82.149.70", "46.39.182.135", "83.240.4.221"]
    seq = [(7, 3 * i + k, a) for i, a in enumerate(addrs) for k in range(3)]
    hist = link_days(records(seq))
    for policy, offset in (("first-seen", 0), ("per-run", 0), ("last-seen", 2)):
        rows = select_most_distant(hist, policy)
        assert format_ipv4(rows.address) == addrs  # one row per address, in time order
        assert [(d - np.datetime64(D0, "D")).astype(int) for d in rows.date] == [
            3 * i + offset for i in range(5)
        ]


def test_attributes_come_from_the_selected_day() -> None:
    # same address, coordinates change on day 2: first-seen keeps day 0's, last-seen day 3's
    recs = records([(1, 0, "1.1.1.1"), (1, 1, "1.1.1.1"), (1, 2, "1.1.1.1"), (1, 3, "1.1.1.1")])
    for r in recs[2:]:
        r.latitude[:] = 51.0
    hist = link_days(recs)
    assert len(hist) == 2  # two segments, one run
    assert select_most_distant(hist, "first-seen").latitude.tolist() == [50.0]
    assert select_most_distant(hist, "last-seen").latitude.tolist() == [51.0]
    per_run = select_most_distant(hist, "per-run")
    assert per_run.latitude.tolist() == [50.0]
    assert dates(per_run.last_seen) == ["2020-01-04"]


def test_linker_chunks_give_the_same_history_and_refuse_late_days() -> None:
    rng = np.random.default_rng(1)
    seq = [(int(p), d, f"1.0.0.{int(rng.integers(1, 4))}") for d in range(30) for p in range(1, 6)]
    whole = link_days(records(seq))
    small = link_days(records(seq), chunk_rows=7)
    assert_same_columns(whole, small)
    # the same records regrouped: every day split in two parts, parts reversed, tiny chunks
    halves = []
    for r in records(seq):
        cols = [
            getattr(r, n) for n in ("probe_id", "address", "country", "latitude", "longitude", "asn", "day")
        ]
        halves += [DailyRecords(4, *(c[:2] for c in cols)), DailyRecords(4, *(c[2:] for c in cols))]
    regrouped = link_days(halves[::-1], chunk_rows=2)
    assert_same_columns(whole, regrouped)
    linker = Linker(4, chunk_rows=1)
    recs = records(seq)
    linker.add(recs[5])
    with pytest.raises(ValueError, match="date order"):
        linker.add(recs[2])
    with pytest.raises(FamilyMismatchError):
        linker.add(DailyRecords.empty(6))
    assert len(Linker(4).finish()) == 0


# ------------------------------------------------------------------------------------ unreliable


def country_change_case() -> list[DaySnapshot]:
    """Probe 1 declares DE then AT with an UNCHANGED address; probe 2 is steady."""
    snaps = []
    for i in range(4):
        cc = "DE" if i < 2 else "AT"
        snaps.append(
            snapshot(
                day(i),
                [(1, C, cc, 48.2, 16.4, "81.0.0.1", 8447), (2, C, "CZ", 50.1, 14.4, "82.0.0.1", 2852)],
            )
        )
    return snaps


def test_reference_and_default_differ_on_a_country_change_with_unchanged_address() -> None:
    snaps = country_change_case()
    common: dict[str, Any] = {
        "families": (4,),
        "border_check": False,
        "cloud_filter": False,
        "cloud_asns": (),
    }
    default = ground_truths_from_snapshots(snaps, preset="default", **common)[4]
    reference = ground_truths_from_snapshots(snaps, preset="reference", **common)[4]
    assert default.probe_id.tolist() == [2]
    assert default.funnel.step("unreliable_probes").removed == 1
    assert default.removals is not None
    assert default.removals.by_reason() == {"unreliable_probe": 1}
    # the reference notebook tested after drop_duplicates(['id', 'ip']): one row, country DE kept
    assert sorted(reference.probe_id.tolist()) == [1, 2]
    row = reference.select(reference.probe_id == 1)
    assert row.country.tolist() == [b"DE"]
    assert dates(row.date) == ["2020-01-01"]
    assert reference.funnel.step("unreliable_probes").removed == 0
    assert reference.parameters["country_change"] == "after-dedup"
    # the step functions directly
    hist = link_days([daily_filter(s, 4).kept for s in snaps])
    assert unreliable_probes(hist).tolist() == [1]
    rows = select_most_distant(hist, "first-seen")
    assert unreliable_probes_after_dedup(rows).tolist() == []
    assert unreliable_probes_after_dedup(select_most_distant(hist, "per-run")).tolist() == []
    # with a changed address, both tests see it
    snaps[3] = snapshot(
        day(3), [(1, C, "AT", 48.2, 16.4, "81.0.0.9", 8447), (2, C, "CZ", 50.1, 14.4, "82.0.0.1", 2852)]
    )
    hist = link_days([daily_filter(s, 4).kept for s in snaps])
    assert unreliable_probes_after_dedup(select_most_distant(hist)).tolist() == [1]


def test_remove_probes_reports_rows() -> None:
    hist = link_days(records([(1, 0, "1.1.1.1"), (2, 0, "2.2.2.2"), (2, 1, "2.2.2.3")]))
    rows = select_most_distant(hist)
    res = remove_probes(rows, [2], name="excluded_probes", reason="excluded_probe")
    assert res.kept.probe_id.tolist() == [1]
    assert res.step.rows_in == 3
    assert res.step.removed == 2
    assert res.step.rows_out == 1
    assert sorted(format_ipv4(res.removed.address)) == ["2.2.2.2", "2.2.2.3"]
    assert set(res.removed.reason.tolist()) == {"excluded_probe"}


# ------------------------------------------------------------------------------------ pipeline


class FakeBorders:
    """Accepts a point when it lies in a latitude band per country (a stand-in for geography)."""

    bands: ClassVar[dict[bytes, tuple[float, float]]] = {
        b"DE": (47.0, 55.0),
        b"CZ": (48.5, 51.1),
        b"AT": (46.4, 49.0),
    }

    def check(
        self,
        declared: npt.NDArray[np.bytes_],
        lat: npt.NDArray[np.float64],
        lon: npt.NDArray[np.float64],
        *,
        tolerance_km: float = 10.0,
        main_territory: Collection[str] = ("FR",),
    ) -> Any:
        lo = np.array([self.bands.get(c, (-90, 90))[0] for c in declared.tolist()])
        hi = np.array([self.bands.get(c, (-90, 90))[1] for c in declared.tolist()])
        ok = (lat >= lo) & (lat <= hi)

        class Result:
            accepted = ok
            status = np.where(ok, "inside", "other_country")

        return Result()

    def describe(self) -> dict[str, Any]:
        return {"kind": "fake"}


def test_pipeline_funnel_chain_and_reasons() -> None:
    snaps = []
    for i in range(3):
        rows: list[Row] = [
            (1, C, "DE", 52.5, 13.4, f"85.0.0.{1 + (i > 0)}", 3320),  # two addresses
            (2, C, "DE", 40.0, 13.4, "85.1.0.1", 3320),  # outside DE by the fake borders
            (3, C, "CZ", 50.1, 14.4, "34.78.21.28", 396982),  # Google Cloud ASN
            (4, C, "CZ", 50.1, 14.4, "86.0.0.1", 2852),  # excluded by id
            (5, int(ProbeStatus.DISCONNECTED), "CZ", 50.1, 14.4, "86.0.0.5", 2852),
        ]
        snaps.append(snapshot(day(i), rows))
    params = GroundTruthParams.preset_params("default", exclude_probes=[4], cloud_asns=[396982, 16509])
    gt = ground_truths_from_snapshots(reversed(snaps), families=(4,), preset=params, borders=FakeBorders())[4]
    assert triples(gt) == {(1, "85.0.0.1", "2020-01-01"), (1, "85.0.0.2", "2020-01-02")}
    steps = gt.funnel.steps
    assert [s.name for s in steps] == [
        *DAILY_RULES,
        "most_distant",
        "unreliable_probes",
        "excluded_probes",
        "border",
        "cloud_asn",
    ]
    assert steps[0].rows_in == 15
    assert steps[0].removed == 3
    for prev, nxt in itertools.pairwise(steps):
        assert nxt.rows_in == prev.rows_out
    assert steps[-1].rows_out == len(gt)
    assert steps[5].rows_in == 12
    assert steps[5].rows_out == 5
    assert gt.removals is not None
    assert gt.removals.by_reason() == {"border:other_country": 1, "cloud_asn:396982": 1, "excluded_probe": 1}
    assert gt.removals.daily_totals()["status"] == 3
    assert gt.removals.daily_counts.shape == (3, 7)
    assert gt.parameters["exclude_probes"] == [4]
    assert gt.parameters["borders"] == {"kind": "fake"}
    assert "most distant selection: first-seen" in str(gt)


def test_params_presets_and_validation() -> None:
    ref = GroundTruthParams.preset_params("reference", cloud_asns=[1])
    assert ref.country_change == "after-dedup"
    assert ref.border_tolerance_km == 0.0
    assert ref.dedup == "first-seen"
    assert ref.main_territory == ("FR",)
    d = GroundTruthParams.preset_params("default", cloud_asns=[1], main_territory=["fr", "nl"])
    assert d.country_change == "daily"
    assert d.border_tolerance_km == 10.0
    assert d.main_territory == ("FR", "NL")
    assert d.to_dict()["cloud_asns"] == [1]
    with pytest.raises(ValueError, match="preset"):
        GroundTruthParams.preset_params("paper")
    with pytest.raises(ValueError, match="policy"):
        GroundTruthParams(dedup="newest", cloud_asns=())
    with pytest.raises(ValueError, match="every"):
        GroundTruthParams(every=0, cloud_asns=())
    with pytest.raises(ValueError, match="tolerance"):
        GroundTruthParams(border_tolerance_km=-1, cloud_asns=())


def test_empty_history() -> None:
    hist = link_days([])
    assert isinstance(hist, History)
    assert len(hist) == 0
    for policy in ("first-seen", "per-run", "last-seen"):
        assert len(select_most_distant(hist, policy)) == 0
    assert unreliable_probes(hist).size == 0


def test_real_borders_default_tolerance_versus_reference_strict() -> None:
    from ipevidence.geography import Borders

    rows: list[Row] = [
        (1, C, "DE", 52.52, 13.40, "91.64.0.1", 3209),  # Berlin: inside
        (2, C, "FR", 52.52, 13.40, "91.64.0.2", 3209),  # declared FR, point in Germany
        (3, C, "PT", 38.70, -9.42, "91.64.0.3", 3243),  # off the coast near Lisbon (0.7 km at sea)
        (4, C, "FR", -21.11, 55.53, "91.64.0.4", 3215),  # Reunion: outside European France
        (5, C, "CZ", 50.08, 14.43, "91.64.0.5", 2852),  # Prague: inside
    ]
    snaps = [snapshot(day(0), rows)]
    borders = Borders.load("10m")
    common: dict[str, Any] = {"families": (4,), "cloud_filter": False, "cloud_asns": (), "borders": borders}
    default = ground_truths_from_snapshots(snaps, preset="default", **common)[4]
    reference = ground_truths_from_snapshots(snaps, preset="reference", **common)[4]
    assert sorted(default.probe_id.tolist()) == [1, 3, 5]
    assert sorted(reference.probe_id.tolist()) == [1, 5]
    assert default.removals is not None
    assert reference.removals is not None
    assert default.removals.by_reason() == {"border:other_country": 1, "border:overseas": 1}
    assert reference.removals.by_reason() == {
        "border:other_country": 1,
        "border:outside_far": 1,
        "border:overseas": 1,
    }
    assert "tolerance 10 km" in default.funnel.step("border").description
    assert "coast_accepted 1" in default.funnel.step("border").description
    assert "tolerance 0 km" in reference.funnel.step("border").description
    assert default.parameters["borders"]["scale"] == "10m"
    # the main territory can be lifted: Reunion then counts as France
    lifted = ground_truths_from_snapshots(snaps, preset="default", main_territory=(), **common)[4]
    assert 4 in lifted.probe_id.tolist()


def test_asn_table_fills_missing_asns_before_the_cloud_step() -> None:
    google, _ = ipv4_column(["34.78.21.28"])

    class Table:
        def lookup(self, col: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
            return np.where(col == google[0], 396982, 0).astype(np.uint32)

        def describe(self) -> dict[str, str]:
            return {"name": "ipasn_test.dat", "date": "2022-12-31"}

    rows: list[Row] = [
        (1, C, "GB", 51.5, -0.12, "34.78.21.28", 0),  # no ASN in the archive; the table says Google
        (2, C, "GB", 51.5, -0.12, "81.2.69.160", 0),  # no ASN anywhere: removed by the ASN rule
        (3, C, "GB", 51.5, -0.12, "81.2.69.161", 5089),
    ]
    gt = ground_truths_from_snapshots(
        [snapshot(day(0), rows)],
        families=(4,),
        border_check=False,
        cloud_asns=(396982,),
        asn_table=Table(),
    )[4]
    assert gt.probe_id.tolist() == [3]
    assert gt.funnel.step("asn").removed == 1
    assert "1 missing ASNs filled" in gt.funnel.step("asn").description
    assert gt.removals is not None
    assert gt.removals.by_reason() == {"cloud_asn:396982": 1}
    assert gt.removals.daily_totals()["asn_filled"] == 1
    assert gt.parameters["asn_table"] == {"name": "ipasn_test.dat", "date": "2022-12-31"}


def test_cloud_by_asn_then_by_real_provider_ranges() -> None:
    from conftest import shared_file
    from ipevidence.networks import DEFAULT_CLOUD_ASNS, CloudRanges

    folder = shared_file("cloud-ranges-2022-12-31")
    ranges = CloudRanges.load(
        [folder / "aws-ip-ranges.json", folder / "google-cloud-ip-ranges.json", folder / "digitalocean.csv"]
    )
    rows: list[Row] = [
        (1, C, "GB", 51.5, -0.12, "34.78.21.28", 396982),  # Google Cloud by its ASN (paper Table 3)
        (2, C, "CN", 31.2, 121.5, "3.34.51.207", 4134),  # an AWS range announced under another ASN
        (3, C, "IR", 35.7, 51.4, "165.22.79.71", 58224),  # DigitalOcean range
        (4, C, "GB", 51.5, -0.12, "81.2.69.160", 20712),  # an ordinary ISP
    ]
    gt = ground_truths_from_snapshots(
        [snapshot(day(0), rows)], families=(4,), border_check=False, cloud_ranges=ranges
    )[4]
    assert gt.probe_id.tolist() == [4]
    assert [s.name for s in gt.funnel.steps][-2:] == ["cloud_asn", "cloud_ranges"]
    assert gt.funnel.step("cloud_asn").removed == 1
    assert gt.funnel.step("cloud_ranges").removed == 2
    assert gt.removals is not None
    assert gt.removals.by_reason() == {
        "cloud_asn:396982": 1,
        "cloud_range:Amazon Web Services": 1,
        "cloud_range:DigitalOcean": 1,
    }
    assert gt.parameters["cloud_asns"] == sorted(DEFAULT_CLOUD_ASNS)
    assert len(gt.parameters["cloud_ranges"]["providers"]) == 3


def test_summaries_are_json() -> None:
    from ipevidence.jsonutil import canonical_json

    snap = snapshot(day(0), [(1, C, "DE", 52.5, 13.4, "85.0.0.1", 3320)])
    res = daily_filter(snap, 4)
    hist = link_days([res.kept])
    step = remove_probes(select_most_distant(hist), [1])
    text = canonical_json(
        {"daily": res, "history": hist, "step": step, "params": GroundTruthParams(cloud_asns=[1])}
    )
    assert '"kept": 1' in text
    assert '"segments": 1' in text
    assert '"excluded_probes": 1' in text
    assert "1 daily records of 1 probes" in str(hist)
    assert "most distant selection first-seen" in str(GroundTruthParams(cloud_asns=[1]))


def test_after_dedup_country_test_only_in_the_reference_preset() -> None:
    with pytest.raises(ValueError, match="reference"):
        GroundTruthParams.preset_params("default", country_change="after-dedup", cloud_asns=())
    with pytest.raises(ValueError, match="reference"):
        GroundTruthParams(country_change="after-dedup", cloud_asns=())
    ref = GroundTruthParams.preset_params("reference", country_change="daily", cloud_asns=())
    assert ref.country_change == "daily"


def test_unknown_parameters_are_named() -> None:
    with pytest.raises(TypeError, match="tolerance_km"):
        ground_truths_from_snapshots([], families=(4,), tolerance_km=5, cloud_asns=())


def test_in_memory_build_records_its_days() -> None:
    snaps = country_change_case()
    gt = ground_truths_from_snapshots(snaps[::-1], families=(4,), border_check=False, cloud_asns=())[4]
    assert gt.provenance is not None
    assert gt.provenance.source == "in-memory snapshots"
    assert [d.day for d in gt.provenance.used] == [day(i) for i in range(4)]
    assert (gt.provenance.start, gt.provenance.end) == (day(0), day(3))
