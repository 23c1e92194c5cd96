"""GroundTruth files: one npz with JSON metadata (byte-identical round trip, broken files
rejected), CSV in the library's and the reference notebook's columns, counts and windows."""

from __future__ import annotations

import csv
import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from ipevidence.addresses import int_to_ipv6, ipv4_column
from ipevidence.errors import GroundTruthFormatError
from ipevidence.groundtruth import GROUND_TRUTH_COLUMNS, Funnel, FunnelStep, GroundTruth, Removals
from ipevidence.provenance import ArchiveDay, ArchiveProvenance

#: the library's columns, in file and CSV order (written out: a known answer, not a copy of the constant)
COLS = ("probe_id", "address", "country", "latitude", "longitude", "asn", "date", "first_seen", "last_seen")


def test_column_order() -> None:
    assert GROUND_TRUTH_COLUMNS == COLS


def sample(family: int = 4) -> GroundTruth:
    addr: npt.NDArray[Any]
    if family == 4:
        addr, _ = ipv4_column(["8.8.8.8", "81.2.3.4", "81.2.3.5", "1.1.1.1"])
    else:
        addr = int_to_ipv6([0x2A00 << 112 | 1, 0x2A00 << 112 | 2, 0x2A01 << 112 | 3, 0x2001_4860 << 96])
    date = np.array(["2015-03-01", "2015-07-01", "2016-01-02", "2017-12-31"], dtype="datetime64[D]")
    prov = ArchiveProvenance(
        source="local:atlas",
        start=dt.date(2015, 1, 1),
        end=dt.date(2017, 12, 31),
        days=(
            ArchiveDay(dt.date(2015, 1, 1), "ok", "20150101.json.bz2", "ab" * 32),
            ArchiveDay(dt.date(2015, 1, 2), "missing"),
            ArchiveDay(dt.date(2015, 1, 3), "corrupt", "20150103.json.bz2", "cd" * 32, "truncated"),
        ),
    )
    removals = Removals(
        family=family,
        probe_id=np.array([9, 9], np.int32),
        address=addr[:2].copy(),
        date=date[:2].copy(),
        reason=np.array(["border:other_country", "cloud_asn:16509"]),
        daily_rules=("records", "status"),
        daily_days=np.array(["2015-01-01"], dtype="datetime64[D]"),
        daily_counts=np.array([[10, 3]], np.int64),
    )
    return GroundTruth(
        family=family,
        probe_id=np.array([1, 2, 2, 3], np.int32),
        address=addr,
        country=np.array([b"US", b"DE", b"DE", b"AU"], "S2"),
        latitude=np.array([37.751, 52.5200066, 52.52, -33.8688]),
        longitude=np.array([-97.822, 13.404954, 13.405, 151.2093]),
        asn=np.array([15169, 3320, 3320, 13335], np.uint32),
        date=date,
        first_seen=date.copy(),
        last_seen=date + 5,
        funnel=Funnel(family, (FunnelStep("status", "daily: not connected", 10, 3),)),
        provenance=prov,
        parameters={"dedup": "first-seen", "cloud_asns": (16509, 15169), "border_tolerance_km": 10.0},
        removals=removals,
    )


@pytest.mark.parametrize("family", [4, 6])
def test_save_load_round_trip_is_byte_identical(tmp_path: Path, family: int) -> None:
    gt = sample(family)
    first = gt.save(tmp_path / "a.npz")
    loaded = GroundTruth.load(first)
    second = loaded.save(tmp_path / "b.npz")
    assert first.read_bytes() == second.read_bytes()
    for name in COLS:
        a, b = getattr(gt, name), getattr(loaded, name)
        assert a.dtype == b.dtype, name
        assert np.array_equal(a, b), name
    assert loaded.funnel == gt.funnel
    assert loaded.provenance == gt.provenance
    assert loaded.parameters["cloud_asns"] == [16509, 15169]
    assert loaded.removals is not None
    assert gt.removals is not None
    assert loaded.removals.by_reason() == gt.removals.by_reason()
    assert np.array_equal(loaded.removals.daily_counts, [[10, 3]])
    # saving the same object twice gives the same bytes (no timestamps in the zip)
    assert gt.save(tmp_path / "c.npz").read_bytes() == first.read_bytes()
    # no temporary file is left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npz", "c.npz"]


def test_empty_ground_truth_round_trip(tmp_path: Path) -> None:
    gt = GroundTruth.empty(6)
    loaded = GroundTruth.load(gt.save(tmp_path / "e.npz"))
    assert len(loaded) == 0
    assert loaded.family == 6
    assert loaded.removals is None
    assert loaded.counts_per_year() == {}
    assert loaded.counts_per_country_year() == {}


def test_broken_files_raise_ground_truth_format_error(tmp_path: Path) -> None:
    good = sample().save(tmp_path / "good.npz")
    data = good.read_bytes()
    cases = {
        "truncated.npz": data[: len(data) // 2],
        "text.npz": b"not a zip at all\n",
        "empty.npz": b"",
    }
    for name, blob in cases.items():
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(GroundTruthFormatError):
            GroundTruth.load(tmp_path / name)
    # a valid npz without metadata, and one with foreign metadata
    np.savez(tmp_path / "plain.npz", probe_id=np.zeros(1, np.int32))
    with pytest.raises(GroundTruthFormatError, match="metadata"):
        GroundTruth.load(tmp_path / "plain.npz")
    np.savez(tmp_path / "other.npz", metadata=np.frombuffer(b'{"format": "x"}', np.uint8))
    with pytest.raises(GroundTruthFormatError, match="members missing"):
        GroundTruth.load(tmp_path / "other.npz")
    # every column present, foreign metadata
    with zipfile.ZipFile(good) as zf:
        whole = {n: zf.read(n) for n in zf.namelist()}
    import io

    buf = io.BytesIO()
    np.save(buf, np.frombuffer(b'{"format": "x"}', np.uint8))
    whole["metadata.npy"] = buf.getvalue()
    with zipfile.ZipFile(tmp_path / "foreign.npz", "w") as zf:
        for n, b in whole.items():
            zf.writestr(n, b)
    with pytest.raises(GroundTruthFormatError, match="format"):
        GroundTruth.load(tmp_path / "foreign.npz")
    # a column of the wrong dtype
    with zipfile.ZipFile(good) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    with zipfile.ZipFile(tmp_path / "bad.npz", "w") as zf:
        for n, b in members.items():
            if n == "country.npy":
                import io

                buf = io.BytesIO()
                np.save(buf, np.zeros(4, np.float64))
                b = buf.getvalue()
            zf.writestr(n, b)
    with pytest.raises(GroundTruthFormatError, match="country"):
        GroundTruth.load(tmp_path / "bad.npz")
    # an object array would need pickle: refused
    np.savez(tmp_path / "pickle.npz", metadata=np.array([{"a": 1}], dtype=object))
    with pytest.raises(GroundTruthFormatError):
        GroundTruth.load(tmp_path / "pickle.npz")
    with pytest.raises(FileNotFoundError):
        GroundTruth.load(tmp_path / "nope.npz")
    assert issubclass(GroundTruthFormatError, ValueError)


def test_csv_library_and_reference_columns(tmp_path: Path) -> None:
    gt = sample()
    with open(gt.to_csv(tmp_path / "gt.csv"), newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(COLS)
    assert rows[2] == [
        "2",
        "81.2.3.4",
        "DE",
        "52.5200066",
        "13.404954",
        "3320",
        "2015-07-01",
        "2015-07-01",
        "2015-07-06",
    ]
    assert len(rows) == 5
    with open(gt.to_csv(tmp_path / "ref.csv", style="reference"), newline="") as f:
        ref = list(csv.reader(f))
    # the reference notebook's history/histdataset.csv: ip, cntr, id, date (YYYYMMDD), latlon
    assert ref[0] == ["ip", "cntr", "id", "date", "latlon"]
    assert ref[1] == ["8.8.8.8", "US", "1", "20150301", "(37.751, -97.822)"]
    six = sample(6).to_csv(tmp_path / "six.csv")
    assert "2a00::1" in six.read_text()
    with pytest.raises(ValueError, match="style"):
        gt.to_csv(tmp_path / "x.csv", style="excel")  # type: ignore[arg-type]


def test_counts_window_summary() -> None:
    gt = sample()
    assert gt.counts_per_year() == {2015: 2, 2016: 1, 2017: 1}
    assert gt.counts_per_country_year() == {"AU": {2017: 1}, "DE": {2015: 1, 2016: 1}, "US": {2015: 1}}
    assert gt.counts_per_country() == {"AU": 1, "DE": 2, "US": 1}
    w = gt.window(2015, 2016)
    assert len(w) == 3
    assert w.parameters["window"] == {"first_year": 2015, "last_year": 2016}
    assert w.funnel == gt.funnel
    assert "window" not in gt.parameters
    with pytest.raises(ValueError, match="first year"):
        gt.window(2017, 2015)
    d = gt.to_dict()
    assert d["rows"] == 4
    assert d["probes"] == 3
    assert d["countries"] == 3
    assert d["counts_per_year"] == {"2015": 2, "2016": 1, "2017": 1}
    assert d["provenance"]["days_missing"] == ["2015-01-02"]
    assert d["removals"]["removed_by_reason"] == {"border:other_country": 1, "cloud_asn:16509": 1}
    from ipevidence.jsonutil import canonical_json

    assert canonical_json(d) == canonical_json(GroundTruth.to_dict(gt))
    text = str(gt)
    assert "GroundTruth IPv4: 4 rows, 3 probes" in text
    assert "2015: 2" in text
    assert "status: 10 in" in text
    assert "cloud_asn:16509 1" in str(gt.removals)


def test_load_of_a_non_npz_file_never_suggests_pickles(tmp_path: Path) -> None:
    bad = tmp_path / "notes.npz"
    bad.write_text("these are not columns\n" * 20)
    with pytest.raises(GroundTruthFormatError) as exc:
        GroundTruth.load(bad)
    message = str(exc.value)
    assert "not a ground-truth file" in message
    assert "pickle" not in message.lower()
