"""parse_day: both record shapes, mixed files, the real Atlas API records, corrupt files, hostile input."""

from __future__ import annotations

import bz2
import datetime as dt
import hashlib
import ipaddress
import json
import math
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import shared_file
from ipevidence.addresses import format_ipv4, format_ipv6
from ipevidence.archive import COUNT_KEYS, DaySnapshot, ProbeStatus, day_from_name, parse_day, status_code
from ipevidence.archive.parse import bunzip
from ipevidence.errors import ArchiveCorruptError, IpEvidenceError

DAY = dt.date(2024, 10, 25)


def _flat(i: int, **kw: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "id": i,
        "address_v4": f"81.2.{i % 250}.{i % 200 + 1}",
        "address_v6": None,
        "asn_v4": 3320,
        "asn_v6": None,
        "country_code": "DE",
        "latitude": 51.3,
        "longitude": 9.5,
        "status": 1,
        "status_name": "Connected",
        "tags": ["home", "system-ipv4-works"],
        "prefix_v4": "81.2.0.0/16",
        "is_anchor": False,
    }
    rec.update(kw)
    return rec


def _nested(i: int, **kw: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "id": i,
        "address_v4": f"81.3.{i % 250}.9",
        "address_v6": "2a01:4f8::1",
        "asn_v4": 24940,
        "asn_v6": 24940,
        "country_code": "fr",
        "geometry": {"type": "Point", "coordinates": [2.35, 48.86]},
        "status": {"id": 1, "name": "Connected", "since": "2024-01-01T00:00:00Z"},
        "tags": [{"name": "Home", "slug": "home"}],
    }
    rec.update(kw)
    return rec


def _bz(obj: object) -> bytes:
    return bz2.compress(json.dumps(obj).encode())


def test_flat_shape_known_values() -> None:
    snap = parse_day(_bz({"objects": [_flat(7), _flat(9, status_name="Disconnected", status=1)]}), DAY)
    assert isinstance(snap, DaySnapshot)
    assert len(snap) == 2
    assert snap.probe_id.tolist() == [7, 9]
    # status_name is authoritative, not the integer
    assert snap.status.tolist() == [ProbeStatus.CONNECTED, ProbeStatus.DISCONNECTED]
    assert snap.country.tolist() == [b"DE", b"DE"]
    assert snap.latitude.tolist() == [51.3, 51.3]
    assert format_ipv4(snap.ipv4) == ["81.2.7.8", "81.2.9.10"]
    assert snap.ipv4_valid.all()
    assert snap.asn_v4.tolist() == [3320, 3320]
    assert not snap.ipv6_valid.any()
    assert snap.asn_v6.tolist() == [0, 0]
    assert snap.counts["records"] == 2
    assert snap.counts["missing_address_v6"] == 2
    assert set(COUNT_KEYS) <= set(snap.counts)
    assert snap.source is not None
    assert snap.source.status == "ok"


def test_nested_shape_and_bare_list() -> None:
    snap = parse_day(json.dumps([_nested(1)]).encode(), DAY)  # plain JSON, bare list
    assert snap.country.tolist() == [b"FR"]  # upper-cased
    assert snap.latitude.tolist() == [48.86]
    assert snap.longitude.tolist() == [2.35]
    assert snap.status.tolist() == [ProbeStatus.CONNECTED]
    assert format_ipv6(snap.ipv6) == ["2a01:4f8::1"]
    assert snap.asn_v6.tolist() == [24940]


def test_mixed_file_per_record() -> None:
    recs = [_flat(1), _nested(2), _flat(3, tags=[{"name": "x", "slug": "x"}]), _nested(4, tags=["a"])]
    snap = parse_day(_bz({"objects": recs}), DAY)
    assert snap.probe_id.tolist() == [1, 2, 3, 4]
    assert snap.latitude.tolist() == [51.3, 48.86, 51.3, 48.86]
    assert snap.country.tolist() == [b"DE", b"FR", b"DE", b"FR"]
    assert (snap.status == ProbeStatus.CONNECTED).all()


def test_real_atlas_api_records_wrapped_as_a_day() -> None:
    path = shared_file("atlas-api/starlink-probes-2024-10-25.json")
    records = json.loads(path.read_text())
    snap = parse_day(_bz({"objects": records}), DAY)
    assert len(snap) == 156
    by_id = {int(p): i for i, p in enumerate(snap.probe_id)}
    i = by_id[1240]
    assert snap.country[i] == b"IT"
    assert snap.status[i] == ProbeStatus.ABANDONED
    assert (snap.latitude[i], snap.longitude[i]) == (45.4975, 8.9395)
    assert format_ipv4(snap.ipv4[i : i + 1]) == ["145.224.104.74"]
    assert snap.asn_v4[i] == 14593
    assert snap.ipv6_valid[i]
    assert format_ipv6(snap.ipv6[i : i + 1]) == ["fdf2:52e:1470:2fc3:220:4aff:fec7:bb3a"]
    i = by_id[10743]
    assert snap.country[i] == b"US"
    assert snap.status[i] == ProbeStatus.CONNECTED
    assert (snap.latitude[i], snap.longitude[i]) == (48.4885, -122.9005)
    # status counts as published: Connected 78, Disconnected 58, Abandoned 19, Written Off 1
    counts = {
        ProbeStatus(int(k)).name: int(v)
        for k, v in zip(*np.unique(snap.status, return_counts=True), strict=True)
    }
    assert counts == {"CONNECTED": 78, "DISCONNECTED": 58, "ABANDONED": 19, "WRITTEN_OFF": 1}
    # the same records through the reference way (json + ipaddress per row)
    for rec in records:
        j = by_id[rec["id"]]
        if rec["address_v4"]:
            assert int(ipaddress.IPv4Address(rec["address_v4"])) == snap.ipv4[j]
        else:
            assert not snap.ipv4_valid[j]
        assert snap.asn_v4[j] == (rec["asn_v4"] or 0)
        assert snap.country[j].decode() == rec["country_code"]
    assert snap.counts["missing_address_v4"] == sum(1 for r in records if r["address_v4"] is None)


def test_wrong_types_make_only_that_field_missing() -> None:
    recs = [
        _flat(1, latitude="51.3"),
        _flat(2, longitude=[9.5]),
        _flat(3, asn_v4="AS3320"),
        _flat(4, address_v4=1234567),
        _flat(5, country_code=276),
        _flat(6, status_name=1),
        _nested(7, geometry="POINT(1 2)"),
        _nested(8, status=["Connected"]),
        _flat(9, asn_v4=True, latitude=True),
        _flat(10, tags={"weird": 1}, extra_field=[1, 2]),
        _nested(11, geometry={"type": "Point", "coordinates": [1.0]}),
    ]
    snap = parse_day(_bz({"objects": recs}), DAY)
    assert len(snap) == 11
    assert math.isnan(snap.latitude[0])
    assert snap.longitude[0] == 9.5
    assert snap.latitude[1] == 51.3
    assert math.isnan(snap.longitude[1])
    assert snap.asn_v4[2] == 0
    assert snap.latitude[2] == 51.3
    assert not snap.ipv4_valid[3]
    assert snap.asn_v4[3] == 3320
    assert snap.country[4] == b""
    assert snap.ipv4_valid[4]
    assert snap.status[5] == ProbeStatus.MISSING
    assert math.isnan(snap.latitude[6])
    assert math.isnan(snap.longitude[6])
    assert snap.status[7] == ProbeStatus.MISSING
    assert snap.latitude[7] == 48.86
    assert snap.asn_v4[8] == 0
    assert math.isnan(snap.latitude[8])
    assert snap.ipv4_valid[9]
    assert snap.status[9] == ProbeStatus.CONNECTED
    assert math.isnan(snap.latitude[10])
    c = snap.counts
    assert c["wrongtype_latitude"] == 2
    assert c["wrongtype_longitude"] == 1
    assert c["wrongtype_asn_v4"] == 2
    assert c["wrongtype_address_v4"] == 1
    assert c["wrongtype_country_code"] == 1
    assert c["wrongtype_status_name"] == 1
    assert c["wrongtype_status"] == 1
    assert c["wrongtype_geometry"] == 1
    assert c["invalid_geometry"] == 1


def test_bad_values_are_counted() -> None:
    recs = [
        _flat(1, country_code="Germany"),
        _flat(2, country_code=""),
        _flat(3, country_code=None),
        _flat(4, country_code=" de "),
        _flat(5, address_v4="999.1.1.1"),
        _flat(6, address_v4=None, asn_v4=None),
        _flat(7, asn_v4=0),
        _flat(8, asn_v4=2**32),
        _flat(9, status_name="Sleeping"),
        _flat(10, status_name=None, status=None),
        _flat(11, latitude=None, longitude=None),
        _flat(12, latitude=95.0),
    ]
    snap = parse_day(_bz(recs), DAY)
    assert snap.country.tolist()[:4] == [b"", b"", b"", b"DE"]
    c = snap.counts
    assert (c["invalid_country"], c["missing_country"]) == (1, 2)
    assert (c["invalid_address_v4"], c["missing_address_v4"]) == (1, 1)
    assert (c["invalid_asn_v4"], c["missing_asn_v4"]) == (2, 1)
    assert snap.status[8] == ProbeStatus.OTHER
    assert c["other_status"] == 1
    assert snap.status[9] == ProbeStatus.MISSING
    assert c["missing_status"] == 1
    assert c["missing_latitude"] == 1
    assert snap.latitude[11] == 95.0  # out of range is kept: the daily filter removes it


def test_records_without_usable_id_are_dropped_and_counted() -> None:
    recs: list[Any] = [
        _flat(1),
        _flat(2, id=None),
        _flat(3, id="3"),
        _flat(4, id=2**40),
        5,
        "x",
        [1],
        _flat(6),
    ]
    del recs[1]["id"]
    snap = parse_day(_bz({"objects": recs}), DAY)
    assert snap.probe_id.tolist() == [1, 6]
    c = snap.counts
    assert c["records"] == 8
    assert c["rows"] == 2
    assert c["dropped_missing_id"] == 1
    assert c["dropped_invalid_id"] == 2
    assert c["dropped_not_object"] == 3


def test_empty_day_is_valid() -> None:
    snap = parse_day(_bz({"objects": []}), DAY)
    assert len(snap) == 0
    assert snap.counts["records"] == 0


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"<!DOCTYPE html><html><body>404 Not Found</body></html>", "HTML"),
        (b'{"objects": [{"id": 1,', "invalid JSON"),
        (b'{"count": 3, "results": []}', "not an archive day"),
        (b'{"objects": 5}', "not an archive day"),
        (b"42", "not an archive day"),
        (b"", "empty"),
    ],
)
def test_corrupt_payloads_raise_one_typed_error(payload: bytes, reason: str) -> None:
    for data in (payload, bz2.compress(payload)):
        with pytest.raises(ArchiveCorruptError) as info:
            parse_day(data, DAY)
        assert reason in str(info.value)
        assert info.value.sha256 == hashlib.sha256(data).hexdigest()
        assert isinstance(info.value, IpEvidenceError)
        assert isinstance(info.value, ValueError)


def test_truncated_bzip2(tmp_path: Path) -> None:
    data = _bz({"objects": [_flat(i) for i in range(300)]})
    path = tmp_path / "20220121.json.bz2"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveCorruptError) as info:
        parse_day(path)
    assert "truncated" in info.value.reason
    assert info.value.day == dt.date(2022, 1, 21)
    assert info.value.sha256 == hashlib.sha256(data[: len(data) // 2]).hexdigest()
    assert info.value.path == str(path)
    path.write_bytes(data + b"garbage")
    with pytest.raises(ArchiveCorruptError, match="trailing garbage"):
        parse_day(path)
    path.write_bytes(b"BZh9" + bytes(100))
    with pytest.raises(ArchiveCorruptError, match="invalid bzip2"):
        parse_day(path)


def test_multistream_bzip2_and_day_from_name(tmp_path: Path) -> None:
    text = json.dumps({"objects": [_flat(1), _flat(2)]}).encode()
    half = len(text) // 2
    path = tmp_path / "2019" / "03" / "20190302.json.bz2"
    path.parent.mkdir(parents=True)
    path.write_bytes(bz2.compress(text[:half]) + bz2.compress(text[half:]))
    snap = parse_day(path)
    assert snap.day == dt.date(2019, 3, 2)
    assert snap.probe_id.tolist() == [1, 2]
    assert snap.source is not None
    assert snap.source.name == "20190302.json.bz2"
    assert snap.source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert day_from_name("probes-20241025-0310.json") == dt.date(2024, 10, 25)
    with pytest.raises(ValueError, match="YYYYMMDD"):
        day_from_name("latest.json.bz2")
    with pytest.raises(ValueError, match="day="):
        parse_day(b"[]")


def test_decompression_cap_stops_a_bomb() -> None:
    bomb = bz2.compress(b"[" + b" " * 5_000_000 + b"]")
    assert len(bomb) < 1000
    with pytest.raises(ArchiveCorruptError, match="max_decompressed"):
        parse_day(bomb, DAY, max_decompressed=1_000_000)
    assert len(parse_day(bomb, DAY, max_decompressed=6_000_000)) == 0
    with pytest.raises(ArchiveCorruptError, match="max_decompressed"):
        parse_day(b"[" + b" " * 2000 + b"]", DAY, max_decompressed=1000)
    with pytest.raises(ValueError, match="max_decompressed"):
        bunzip(bomb, 10)


def test_status_code_names() -> None:
    assert status_code("Connected") == ProbeStatus.CONNECTED
    assert status_code("never  connected") == ProbeStatus.NEVER_CONNECTED
    assert status_code("Written Off") == ProbeStatus.WRITTEN_OFF
    assert status_code("") == ProbeStatus.MISSING
    assert status_code(3) == ProbeStatus.MISSING
    assert status_code("Zombie") == ProbeStatus.OTHER


# --------------------------------------------------------------------------------------------
# hostile input: any JSON value in any field never crashes the day, and the reader agrees with a
# slow reference reader written the obvious way


_json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
)
_json = st.recursive(
    _json_leaf,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids, max_size=3),
    max_leaves=6,
)
_plausible = {
    "id": st.integers(-5, 2**33) | _json,
    "status_name": st.sampled_from(["Connected", "Disconnected", "Abandoned", "connected", ""]) | _json,
    "status": st.fixed_dictionaries({"name": st.sampled_from(["Connected", "Written Off"]) | _json}) | _json,
    "country_code": st.sampled_from(["DE", "fr", "ZZ", "Ü1", " nl", "USA"]) | _json,
    "latitude": st.floats(-200, 200) | _json,
    "longitude": st.floats(-400, 400) | _json,
    "geometry": st.fixed_dictionaries({"coordinates": st.lists(st.floats(-200, 200) | _json, max_size=3)})
    | _json,
    "address_v4": st.sampled_from(["1.2.3.4", "10.0.0.1", "256.1.1.1", "1.2.3", " 1.2.3.4"]) | _json,
    "address_v6": st.sampled_from(["2a00::1", "fe80::1", "::", "2a00::g"]) | _json,
    "asn_v4": st.integers(-1, 2**33) | _json,
    "asn_v6": st.integers(-1, 2**33) | _json,
    "tags": _json,
}
_record = st.fixed_dictionaries({}, optional=_plausible) | _json


def _reference(recs: list[Any]) -> dict[str, list[Any]]:
    """Slow reader: one record at a time, the obvious way."""

    def num(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            return math.nan
        try:
            return float(v)
        except OverflowError:
            return math.copysign(math.inf, v)

    out: dict[str, list[Any]] = {k: [] for k in ("id", "status", "country", "lat", "lon", "v4", "asn4", "v6")}
    for r in recs:
        if not isinstance(r, dict):
            continue
        pid = r.get("id")
        if isinstance(pid, bool) or not isinstance(pid, int) or not 0 <= pid < 2**31:
            continue
        out["id"].append(pid)
        name = r.get("status_name")
        if not isinstance(name, str):
            st_ = r.get("status")
            name = st_.get("name") if isinstance(st_, dict) else None
        out["status"].append(status_code(name) if isinstance(name, str) else 0)
        cc = r.get("country_code")
        cc = cc.strip().upper() if isinstance(cc, str) else ""
        out["country"].append(cc.encode() if len(cc) == 2 and cc.isascii() and cc.isalpha() else b"")
        lat, lon = r.get("latitude"), r.get("longitude")
        geo = r.get("geometry")
        if lat is None and lon is None and geo is not None:
            co: Any = geo.get("coordinates") if isinstance(geo, dict) else None
            if (
                isinstance(co, list)
                and len(co) == 2
                and all(x is None or (isinstance(x, int | float) and not isinstance(x, bool)) for x in co)
            ):
                lon, lat = co[0], co[1]
            else:
                lon, lat = None, None
        out["lat"].append(num(lat))
        out["lon"].append(num(lon))
        v4 = r.get("address_v4")
        try:
            out["v4"].append(
                int(ipaddress.IPv4Address(v4)) if isinstance(v4, str) and v4.strip() == v4 else None
            )
        except ValueError:
            out["v4"].append(None)
        v6 = r.get("address_v6")
        try:
            ok6 = isinstance(v6, str) and "%" not in v6
            out["v6"].append(ipaddress.IPv6Address(v6).packed if ok6 else None)
        except ValueError:
            out["v6"].append(None)
        a = r.get("asn_v4")
        out["asn4"].append(a if isinstance(a, int) and not isinstance(a, bool) and 0 < a < 2**32 else 0)
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recs=st.lists(_record, max_size=8), wrap=st.booleans())
def test_hostile_records_never_crash_and_match_reference(recs: list[Any], wrap: bool) -> None:
    payload = msgspec.json.encode({"objects": recs} if wrap else recs)
    snap = parse_day(payload, DAY)
    ref = _reference(recs)
    assert snap.probe_id.tolist() == ref["id"]
    assert snap.status.tolist() == ref["status"]
    assert snap.country.tolist() == ref["country"]
    assert np.array_equal(snap.latitude, np.array(ref["lat"], np.float64), equal_nan=True)
    assert np.array_equal(snap.longitude, np.array(ref["lon"], np.float64), equal_nan=True)
    assert [int(v) if ok else None for v, ok in zip(snap.ipv4, snap.ipv4_valid, strict=True)] == ref["v4"]
    got6 = [bytes(snap.ipv6[i : i + 1].tobytes()) if ok else None for i, ok in enumerate(snap.ipv6_valid)]
    assert got6 == ref["v6"]
    assert snap.asn_v4.tolist() == ref["asn4"]
    c = snap.counts
    assert c["records"] == len(recs)
    assert c["rows"] == len(snap)
    dropped = sum(v for k, v in c.items() if k.startswith("dropped_"))
    assert c["rows"] + dropped == c["records"]
