"""Hostile ground-truth files (issue 12, items 3 and 6): members, declared shapes and sizes are
checked before anything is read, the metadata is validated at load, and every failure is a
GroundTruthFormatError (exit 3), under a 1.5 GiB memory limit, leaving nothing on disk."""

from __future__ import annotations

import datetime as dt
import io
import json
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from limits import run_cli_limited, run_limited

from ipevidence.addresses import ipv4_column
from ipevidence.groundtruth import Funnel, FunnelStep, GroundTruth
from ipevidence.provenance import ArchiveDay, ArchiveProvenance

#: child code: load argv[1], print the error's class, exit with the command's code for it
LOAD = """
import sys
from ipevidence.cli import exit_code_for
from ipevidence.groundtruth import GroundTruth
code = 0
for arg in sys.argv[1:]:
    path, _, bound = arg.partition("::")
    try:
        gt = GroundTruth.load(path, **({"max_bytes": int(bound)} if bound else {}))
    except BaseException as exc:
        print(type(exc).__name__, str(exc).replace("\\n", " ")[:300])
        code = int(exit_code_for(exc))
        continue
    print("loaded", len(gt))
sys.exit(code)
"""


def good(tmp_path: Path) -> Path:
    addr, _ = ipv4_column(["8.8.8.8", "81.2.3.4", "81.2.3.5", "1.1.1.1"])
    date = np.array(["2015-03-01", "2015-07-01", "2016-01-02", "2017-12-31"], dtype="datetime64[D]")
    gt = GroundTruth(
        family=4,
        probe_id=np.array([1, 2, 2, 3], np.int32),
        address=addr,
        country=np.array([b"DE", b"GB", b"GB", b"US"], "S2"),
        latitude=np.array([50.0, 51.5, 51.5, 40.0]),
        longitude=np.array([8.0, -0.1, -0.1, -74.0]),
        asn=np.array([3320, 2856, 2856, 7922], np.uint32),
        date=date,
        first_seen=date.copy(),
        last_seen=date.copy(),
        funnel=Funnel(4, (FunnelStep("records", "records read", 10, 6),)),
        provenance=ArchiveProvenance(
            "local:atlas",
            dt.date(2015, 1, 1),
            dt.date(2017, 12, 31),
            (ArchiveDay(dt.date(2015, 1, 1), "ok"),),
        ),
        parameters={"dedup": "first-seen", "tolerance_km": 10.0},
    )
    return gt.save(tmp_path / "good.npz")


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def write_zip(path: Path, content: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in content.items():
            zf.writestr(name, data)
    return path


def npy(array: Any) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def with_metadata(tmp_path: Path, name: str, meta: bytes) -> Path:
    content = members(good(tmp_path))
    content["metadata.npy"] = npy(np.frombuffer(meta, np.uint8))
    return write_zip(tmp_path / name, content)


def good_metadata(tmp_path: Path) -> dict[str, Any]:
    raw = np.lib.format.read_array(io.BytesIO(members(good(tmp_path))["metadata.npy"]))
    meta: dict[str, Any] = json.loads(raw.tobytes())
    return meta


def declare_size(path: Path, member: str, size: int) -> None:
    """Patch the central directory so that ``member`` declares ``size`` bytes (no data added)."""
    data = bytearray(path.read_bytes())
    at = data.rfind(b"PK\x01\x02", 0, data.rfind(member.encode()))
    assert at >= 0
    struct.pack_into("<II", data, at + 20, size, size)
    path.write_bytes(bytes(data))


def assert_refused(tmp_path: Path, cases: list[tuple[str, str]]) -> None:
    """Load every (path[::max_bytes], expected words) in one limited child: each must be refused."""
    before = sorted(p.name for p in tmp_path.iterdir())
    out = run_limited(LOAD, args=tuple(arg for arg, _ in cases), timeout=60)
    assert out.returncode == 3, (out.stdout, out.stderr)
    assert "MemoryError" not in out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == len(cases), out.stdout
    for (arg, match), line in zip(cases, lines, strict=True):
        assert line.startswith("GroundTruthFormatError"), (arg, line)
        assert match in line, (arg, line)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written, nothing partial


def test_the_good_file_loads_under_the_limit(tmp_path: Path) -> None:
    out = run_limited(LOAD, args=(str(good(tmp_path)),), timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "loaded 4"


def test_extra_member_of_3_gib_is_refused_before_reading(tmp_path: Path) -> None:
    content = members(good(tmp_path))
    content["extra.npy"] = npy(np.zeros(4, np.uint8))
    target = write_zip(tmp_path / "extra.npz", content)
    declare_size(target, "extra.npy", 3 << 30)
    assert_refused(tmp_path, [(str(target), "unknown members")])


def test_extra_member_really_deflated_is_refused(tmp_path: Path) -> None:
    content = members(good(tmp_path))
    target = tmp_path / "deflated.npz"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, b in content.items():
            zf.writestr(n, b)
        zf.writestr("padding.npy", bytes(64 << 20))  # 64 MiB of zeros in about 64 KB
    assert target.stat().st_size < 1 << 20
    assert_refused(tmp_path, [(str(target), "unknown members")])


def test_a_zip_listing_thousands_of_members_is_refused_before_listing_them(tmp_path: Path) -> None:
    # zipfile would keep every entry of the central directory in memory (millions fit in a file)
    target = tmp_path / "many.npz"
    with zipfile.ZipFile(target, "w") as zf:
        for n, b in members(good(tmp_path)).items():
            zf.writestr(n, b)
        for i in range(5000):
            zf.writestr(f"x{i}", b"")
    assert_refused(tmp_path, [(str(target), "lists 5,")])


def test_an_8_tib_declared_array_is_refused(tmp_path: Path) -> None:
    content = members(good(tmp_path))
    header = io.BytesIO()
    np.lib.format.write_array_header_2_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (1 << 40,)}
    )
    content["latitude.npy"] = header.getvalue() + bytes(32)
    assert_refused(tmp_path, [(str(write_zip(tmp_path / "huge.npz", content)), "declares shape")])


def test_declared_sizes_over_the_bound_are_refused(tmp_path: Path) -> None:
    # a consistent file is refused when its declared sizes exceed the (configurable) bound
    assert_refused(tmp_path, [(f"{good(tmp_path)}::1000", "more than the bound")])


WRONG_MEMBERS: list[tuple[str, Any, str]] = [
    ("country.npy", np.zeros(4, np.float64), "dtype"),
    ("probe_id.npy", np.zeros((2, 2), np.int32), "shape"),
    ("metadata.npy", np.zeros(4, np.float64), "dtype"),
    ("country.npy", np.array([b"D\x00", b"<>", b"GB", b"US"], "S2"), "country"),
    ("probe_id.npy", np.zeros(5, np.int32), "length"),
]


def test_wrong_dtype_shape_or_content_is_refused(tmp_path: Path) -> None:
    base = members(good(tmp_path))
    cases = []
    for i, (member, array, match) in enumerate(WRONG_MEMBERS):
        content = dict(base)
        content[member] = npy(array)
        cases.append((str(write_zip(tmp_path / f"bad{i}.npz", content)), match))
    assert_refused(tmp_path, cases)


def test_an_object_array_is_refused_without_unpickling(tmp_path: Path) -> None:
    content = members(good(tmp_path))
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True)
    content["latitude.npy"] = buf.getvalue()
    assert_refused(tmp_path, [(str(write_zip(tmp_path / "pickle.npz", content)), "dtype")])


def test_deeply_nested_metadata_is_a_typed_error(tmp_path: Path) -> None:
    deep = with_metadata(tmp_path, "deep.npz", b"[" * 100_000 + b"]" * 100_000)
    deep2 = with_metadata(
        tmp_path, "deep2.npz", b'{"format": "ipevidence-groundtruth", "a": ' + b"[" * 100_000
    )
    assert_refused(tmp_path, [(str(deep), "metadata"), (str(deep2), "metadata")])


EDITS: list[tuple[dict[str, Any], str]] = [
    ({"provenance": "x"}, "provenance"),
    ({"provenance": {"source": "s", "start": "2015-01-01", "end": "garbage", "days": []}}, "provenance"),
    ({"parameters": "x"}, "parameters"),
    ({"rows": 5}, "length"),
    ({"rows": True}, "rows"),
    ({"family": 6}, "IPv6"),
    ({"family": "4"}, "family"),
    ({"funnel": {"family": 4, "steps": [{"name": "a"}]}}, "funnel"),
    (
        {
            "funnel": {
                "family": 4,
                "steps": [{"name": "a", "description": "", "rows_in": 1, "removed": 2}],
            }
        },
        "funnel",
    ),
    ({"removals": {"daily_rules": [1]}}, "removals"),
    ({"surprise": 1}, "unknown metadata"),
    ({"format_version": 2}, "version"),
]


def test_edited_metadata_is_refused_at_load(tmp_path: Path) -> None:
    cases = []
    for i, (change, match) in enumerate(EDITS):
        meta = good_metadata(tmp_path)
        meta.update(change)
        cases.append((str(with_metadata(tmp_path, f"edited{i}.npz", json.dumps(meta).encode())), match))
    assert_refused(tmp_path, cases)


def test_parameters_that_would_fail_later_are_refused_at_load(tmp_path: Path) -> None:
    # json.loads takes NaN/Infinity/1e400 (inf), which canonical JSON (reports, verdicts) refuses
    cases = []
    for i, literal in enumerate([b"NaN", b"Infinity", b"1e400", b"-Infinity"]):
        meta = json.dumps(good_metadata(tmp_path)).encode()
        meta = meta.replace(b'"tolerance_km": 10.0', b'"tolerance_km": ' + literal)
        assert literal in meta
        cases.append((str(with_metadata(tmp_path, f"nan{i}.npz", meta)), "metadata"))
    # half a surrogate pair: loads with json.loads, then no UTF-8 output could write it
    meta = json.dumps(good_metadata(tmp_path)).encode().replace(b'"first-seen"', b'"\\ud83d"')
    assert b"ud83d" in meta
    cases.append((str(with_metadata(tmp_path, "surrogate.npz", meta)), "surrogate"))
    assert_refused(tmp_path, cases)


def test_the_command_exits_3_on_a_hostile_ground_truth(tmp_path: Path) -> None:
    content = members(good(tmp_path))
    content["extra.npy"] = npy(np.zeros(4, np.uint8))
    target = write_zip(tmp_path / "extra.npz", content)
    declare_size(target, "extra.npy", 3 << 30)
    out = run_cli_limited(["table", "DE", "--date", "2016-06-01", "--ground-truth", str(target)], timeout=120)
    assert out.returncode == 3, out.stderr
    assert "unknown members" in out.stderr
    assert "Traceback" not in out.stderr
