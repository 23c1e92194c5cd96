"""build_ground_truth(s) end to end over a small local archive written here (flat record shape),
with a missing day and a corrupt day: provenance, one pass for both families, every=k, save."""

from __future__ import annotations

import bz2
import concurrent.futures as cf
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ipevidence.addresses import format_ipv4, format_ipv6
from ipevidence.archive import LocalArchive
from ipevidence.groundtruth import GroundTruth
from ipevidence.history import build_ground_truth, build_ground_truths

START = dt.date(2021, 6, 1)


def record(
    pid: int, cc: str, lat: float, lon: float, v4: str | None, asn4: int | None, **kw: Any
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "id": pid,
        "status": 1,
        "status_name": "Connected",
        "country_code": cc,
        "latitude": lat,
        "longitude": lon,
        "address_v4": v4,
        "asn_v4": asn4,
        "address_v6": None,
        "asn_v6": None,
        "tags": [],
    }
    rec.update(kw)
    return rec


def day_records(i: int) -> list[dict[str, Any]]:
    berlin = record(1, "DE", 52.52, 13.405, f"91.64.0.{1 if i < 3 else 2}", 3209)
    berlin["address_v6"] = "2a02:8108::1"
    berlin["asn_v6"] = 3209
    return [
        berlin,
        record(2, "CZ", 50.08, 14.43, "89.24.0.7", 16019),
        record(3, "NL", 52.37, 4.90, "10.1.1.1", 1136),  # private: daily address rule
        record(4, "GB", 51.5, -0.12, "35.195.40.235", 396982),  # Google Cloud
        record(5, "AT", 48.2, 16.37, "83.64.0.1", 8447, status=2, status_name="Disconnected"),
    ]


def write_archive(root: Path, days: int = 6) -> None:
    for i in range(days):
        d = START + dt.timedelta(days=i)
        path = root / f"{d:%Y%m%d}.json.bz2"
        if i == 2:
            continue  # missing on the source
        if i == 4:
            path.write_bytes(bz2.compress(b'{"objects": [{"id": 1,')[:-10])  # corrupt
            continue
        path.write_bytes(bz2.compress(json.dumps({"objects": day_records(i)}).encode()))


@pytest.fixture
def archive(tmp_path: Path) -> LocalArchive:
    root = tmp_path / "atlas"
    root.mkdir()
    write_archive(root)
    return LocalArchive(root)


def test_build_both_families_in_one_pass(archive: LocalArchive, tmp_path: Path) -> None:
    end = START + dt.timedelta(days=5)
    with cf.ThreadPoolExecutor(1) as pool:
        gts = build_ground_truths(
            archive,
            START,
            end,
            families=(4, 6),
            executor=pool,
            cache=None,
            progress=False,
            border_check=False,
        )
    v4, v6 = gts[4], gts[6]
    assert {
        (int(p), a, str(d)) for p, a, d in zip(v4.probe_id, format_ipv4(v4.address), v4.date, strict=True)
    } == {
        (1, "91.64.0.1", "2021-06-01"),
        (1, "91.64.0.2", "2021-06-04"),
        (2, "89.24.0.7", "2021-06-01"),
    }
    assert format_ipv6(v6.address) == ["2a02:8108::1"]
    prov = v4.provenance
    assert prov is not None
    assert prov is v6.provenance
    assert [d.status for d in prov.days] == ["ok", "ok", "missing", "ok", "corrupt", "ok"]
    corrupt = prov.corrupt[0]
    raw = (archive.root / "20210605.json.bz2").read_bytes()
    assert corrupt.sha256 == hashlib.sha256(raw).hexdigest()
    assert (
        prov.used[0].sha256 == hashlib.sha256((archive.root / "20210601.json.bz2").read_bytes()).hexdigest()
    )
    assert prov.source == archive.describe()
    f = v4.funnel
    assert f.step("status").rows_in == 20
    assert f.step("status").removed == 4
    assert f.step("address").removed == 4
    assert f.step("cloud_asn").removed == 1
    assert v4.removals is not None
    assert v4.removals.by_reason() == {"cloud_asn:396982": 1}
    assert v4.removals.daily_counts.shape == (4, 7)
    assert v6.funnel.step("address").removed == 12  # four probes without IPv6 on four days
    assert v4.parameters["families"] == [4, 6]
    assert v4.parameters["start"] == "2021-06-01"
    # save/load keeps everything; saving again is byte-identical
    a = v4.save(tmp_path / "v4.npz")
    again = GroundTruth.load(a)
    assert again.save(tmp_path / "v4b.npz").read_bytes() == a.read_bytes()
    assert again.provenance == prov


def test_every_k_days_and_presets(archive: LocalArchive) -> None:
    end = START + dt.timedelta(days=5)
    gt = build_ground_truth(
        archive,
        START,
        end,
        every=3,
        executor=cf.ThreadPoolExecutor(1),
        cache=None,
        progress=False,
        border_check=False,
        dedup="last-seen",
        exclude_probes=[2],
    )
    assert gt.provenance is not None
    assert [d.day for d in gt.provenance.days] == [START, START + dt.timedelta(days=3)]
    assert gt.parameters["every"] == 3
    assert gt.parameters["dedup"] == "last-seen"
    assert gt.parameters["exclude_probes"] == [2]
    assert sorted(format_ipv4(gt.address)) == ["91.64.0.1", "91.64.0.2"]
    assert gt.funnel.step("excluded_probes").removed == 1
    assert np.all(gt.date == gt.last_seen)
    with pytest.raises(ValueError, match="families"):
        build_ground_truths(archive, START, end, families=(5,))
