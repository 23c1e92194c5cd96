"""Known answers on a generated archive (ipevidence.synthetic.archive): every daily rule removes
exactly the records the generator planted, every most-distant policy keeps exactly the rows a
plain-Python model of the truth gives, and the unreliable-probe, border and cloud steps remove
exactly the labelled probes' rows. Sets of (probe, address, day) are compared, not counts."""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ipevidence.addresses import format_ipv4
from ipevidence.archive import DaySnapshot, LocalArchive, iter_days
from ipevidence.groundtruth import GroundTruth
from ipevidence.history import (
    build_ground_truths,
    daily_filter,
    link_days,
    select_most_distant,
    unreliable_probes,
    unreliable_probes_after_dedup,
)
from ipevidence.provenance import ArchiveDay
from ipevidence.synthetic.archive import SyntheticArchiveConfig, SyntheticTruth, generate_archive

CONFIG = SyntheticArchiveConfig(
    seed=3,
    n_probes=200,
    start=dt.date(2022, 1, 1),
    end=dt.date(2022, 2, 15),
    record_shape="mixed",
)
RULES = {"status": "status", "coordinates": "coordinates", "country": "country"}
RULES.update({"ipv4_address": "address", "ipv4_asn": "asn", "ipv6_address": "address", "ipv6_asn": "asn"})

Triple = tuple[int, str, str]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SyntheticTruth]:
    root = tmp_path_factory.mktemp("synthetic-archive")
    return root, generate_archive(root, CONFIG)


@pytest.fixture(scope="module")
def days(generated: tuple[Path, SyntheticTruth]) -> list[tuple[ArchiveDay, DaySnapshot | None]]:
    """Every day as the archive reader gives it (read once, in threads)."""
    root, truth = generated
    with cf.ThreadPoolExecutor(2) as pool:
        return list(iter_days(LocalArchive(root), truth.days, executor=pool, cache=None, progress=False))


@pytest.fixture(scope="module")
def built(generated: tuple[Path, SyntheticTruth]) -> dict[str, dict[int, GroundTruth]]:
    root, _ = generated
    out = {}
    with cf.ThreadPoolExecutor(2) as pool:
        for preset in ("default", "reference"):
            out[preset] = build_ground_truths(
                LocalArchive(root),
                CONFIG.start,
                CONFIG.end,
                preset=preset,
                executor=pool,
                cache=None,
                progress=False,
            )
    return out


def triples(gt: GroundTruth) -> set[Triple]:
    return {
        (int(p), a, str(d))
        for p, a, d in zip(gt.probe_id.tolist(), format_ipv4(gt.address), gt.date, strict=True)
    }


def passing(truth: SyntheticTruth) -> Iterator[tuple[int, str, str, str]]:
    """(probe, address, day, country) of every record that passes the IPv4 daily filter."""
    r = truth.records.select(truth.records.passes_v4)
    for p, a, d, c in zip(r.probe_id.tolist(), format_ipv4(r.ipv4), r.day, r.country.tolist(), strict=True):
        yield int(p), a, str(d), c.decode()


def model(truth: SyntheticTruth, policy: str) -> set[Triple]:
    """The most distant selection computed the slow, obvious way."""
    obs = sorted((p, d, a) for p, a, d, _ in passing(truth))
    if policy == "per-run":
        out: set[Triple] = set()
        last: dict[int, str] = {}
        for p, d, a in obs:
            if last.get(p) != a:
                out.add((p, a, d))
            last[p] = a
        return out
    days: dict[tuple[int, str], list[str]] = {}
    for p, d, a in obs:
        days.setdefault((p, a), []).append(d)
    pick = min if policy == "first-seen" else max
    return {(p, a, pick(ds)) for (p, a), ds in days.items()}


def test_daily_filter_removes_exactly_the_planted_records(
    generated: tuple[Path, SyntheticTruth], days: list[tuple[ArchiveDay, DaySnapshot | None]]
) -> None:
    _, truth = generated
    seen_days = []
    for archive_day, snap in days:
        if snap is None:
            assert archive_day.day in truth.missing_days + truth.corrupt_days
            continue
        seen_days.append(snap.day)
        t = truth.records.select(truth.day_mask(snap.day))
        for family, fails in ((4, t.first_failure_v4), (6, t.first_failure_v6)):
            res = daily_filter(snap, family)
            expected_kept = set(t.probe_id[fails == ""].tolist())
            assert set(res.kept.probe_id.tolist()) == expected_kept
            expected_removed = {(int(p), RULES[str(f)]) for p, f in zip(t.probe_id, fails, strict=True) if f}
            got = set(zip(res.removed.probe_id.tolist(), res.removed.reason.tolist(), strict=True))
            assert got == expected_removed, (snap.day, family)
    assert seen_days == list(truth.ok_days)


@pytest.mark.parametrize("policy", ["first-seen", "per-run", "last-seen"])
def test_every_policy_keeps_exactly_the_model_rows(
    generated: tuple[Path, SyntheticTruth], days: list[tuple[ArchiveDay, DaySnapshot | None]], policy: str
) -> None:
    _, truth = generated
    kept = [daily_filter(s, 4).kept for _, s in days if s]
    hist = link_days(kept)
    rows = select_most_distant(hist, policy)
    assert triples(rows) == model(truth, policy)
    assert hist.records == int(truth.records.passes_v4.sum())


def test_unreliable_probes_daily_versus_after_dedup(
    generated: tuple[Path, SyntheticTruth], days: list[tuple[ArchiveDay, DaySnapshot | None]]
) -> None:
    _, truth = generated
    kept = [daily_filter(s, 4).kept for _, s in days if s]
    hist = link_days(kept)
    countries: dict[int, set[str]] = {}
    for p, _, _, c in passing(truth):
        countries.setdefault(p, set()).add(c)
    expected = {p for p, cs in countries.items() if len(cs) > 1}
    daily = set(unreliable_probes(hist).tolist())
    assert daily == expected
    labelled = set(truth.probes.probe_id[truth.probes.country_changed].tolist())
    assert daily <= labelled
    assert len(daily) >= 5
    after = set(unreliable_probes_after_dedup(select_most_distant(hist, "first-seen")).tolist())
    missed = daily - after
    keeps_address = set(truth.probes.probe_id[truth.probes.change_keeps_address].tolist())
    assert after <= daily
    assert missed, "the generated archive must contain a country change with an unchanged address"
    assert missed <= keeps_address


def test_whole_pipeline_known_answer(
    generated: tuple[Path, SyntheticTruth], built: dict[str, dict[int, GroundTruth]]
) -> None:
    _, truth = generated
    gt = built["default"][4]
    p = truth.probes
    unreliable = set(unreliable_probes_after_dedup_model(truth, daily=True))
    planted = set(p.probe_id[p.planted_outside_border].tolist())
    cloud = {int(i): int(a) for i, a in zip(p.probe_id[p.cloud], p.cloud_asn[p.cloud], strict=True)}
    rows = model(truth, "first-seen")
    after_unreliable = {r for r in rows if r[0] not in unreliable}
    border_removed = {r for r in after_unreliable if r[0] in planted}
    after_border = after_unreliable - border_removed
    cloud_removed = {r for r in after_border if r[0] in cloud}
    assert planted
    assert cloud
    assert border_removed
    assert cloud_removed
    assert triples(gt) == after_border - cloud_removed
    assert gt.removals is not None
    removed = {
        (int(pid), a, str(d), reason)
        for pid, a, d, reason in zip(
            gt.removals.probe_id.tolist(),
            format_ipv4(gt.removals.address),
            gt.removals.date,
            gt.removals.reason.tolist(),
            strict=True,
        )
    }
    assert {r[:3] for r in removed if r[3] == "unreliable_probe"} == rows - after_unreliable
    assert {r[:3] for r in removed if r[3].startswith("border:")} == border_removed
    assert {r[3] for r in removed if r[3].startswith("border:")} == {"border:other_country"}
    assert {r for r in removed if r[3].startswith("cloud_asn:")} == {
        (*r, f"cloud_asn:{cloud[r[0]]}") for r in cloud_removed
    }
    # the funnel's daily counts are the generator's, per rule and per day
    f = gt.funnel
    tf = truth.records.funnel_v4()
    assert f.step("status").rows_in == len(truth.records)
    for rule, name in RULES.items():
        if rule.startswith("ipv4") or rule in ("status", "coordinates", "country"):
            assert f.step(name).removed == tf[rule], rule
    assert f.step("most_distant").rows_in == tf["kept"]
    assert f.steps[-1].rows_out == len(gt)
    for prev, nxt in zip(f.steps[5:], f.steps[6:], strict=False):
        assert nxt.rows_in == prev.rows_out
    ok_days = [np.datetime64(d, "D") for d in truth.ok_days]
    assert gt.removals.daily_days.tolist() == [d.astype(dt.date) for d in ok_days]
    prov = gt.provenance
    assert prov is not None
    assert [d.day for d in prov.missing] == list(truth.missing_days)
    assert [d.day for d in prov.corrupt] == list(truth.corrupt_days)
    assert all(d.sha256 for d in prov.corrupt + prov.used)


def unreliable_probes_after_dedup_model(truth: SyntheticTruth, *, daily: bool) -> list[int]:
    if daily:
        countries: dict[int, set[str]] = {}
        for p, _, _, c in passing(truth):
            countries.setdefault(p, set()).add(c)
        return sorted(p for p, cs in countries.items() if len(cs) > 1)
    first: dict[tuple[int, str], tuple[str, str]] = {}
    for p, a, d, c in sorted(passing(truth), key=lambda x: (x[2], x[0])):
        first.setdefault((p, a), (d, c))
    by_probe: dict[int, set[str]] = {}
    for (p, _), (_, c) in first.items():
        by_probe.setdefault(p, set()).add(c)
    return sorted(p for p, cs in by_probe.items() if len(cs) > 1)


def test_reference_preset_known_answer(
    generated: tuple[Path, SyntheticTruth], built: dict[str, dict[int, GroundTruth]]
) -> None:
    _, truth = generated
    ref, default = built["reference"][4], built["default"][4]
    assert ref.parameters["preset"] == "reference"
    assert ref.parameters["border_tolerance_km"] == 0.0
    removed_ref = ref.funnel.step("unreliable_probes").removed
    removed_def = default.funnel.step("unreliable_probes").removed
    assert removed_ref < removed_def
    expected = set(unreliable_probes_after_dedup_model(truth, daily=False))
    assert ref.removals is not None
    got = set(ref.removals.probe_id[ref.removals.reason == "unreliable_probe"].tolist())
    assert got == expected
    # the probes the reference misses keep rows with their first-day country
    missed = set(unreliable_probes_after_dedup_model(truth, daily=True)) - expected
    assert missed & set(ref.probe_id.tolist())


def test_ipv6_family_from_the_same_pass(
    generated: tuple[Path, SyntheticTruth], built: dict[str, dict[int, GroundTruth]]
) -> None:
    _, truth = generated
    v6 = built["default"][6]
    r = truth.records
    assert v6.funnel.step("status").rows_in == len(r)
    assert v6.funnel.step("most_distant").rows_in == int(r.passes_v6.sum())
    assert v6.address.dtype == np.dtype("S16")
    assert set(v6.probe_id.tolist()) <= set(truth.probes.probe_id[truth.probes.has_ipv6].tolist())
    assert len(v6) > 0
