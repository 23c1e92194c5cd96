"""Hypothesis fuzzing of the bytes of the files this part of the library reads (issue 12): ground-truth
files (.npz: the zip, the .npy headers, the metadata JSON) and every log format. Each fuzz run is a
child process under the 1.5 GiB memory limit with a per-example deadline and a wall-clock timeout;
the only outcomes allowed are a result or the reader's typed error. Examples are derandomized (the
same every run) and hypothesis keeps no example database, so nothing is written but the inputs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
from limits import run_limited

from ipevidence.addresses import ipv4_column
from ipevidence.groundtruth import Funnel, FunnelStep, GroundTruth, Removals
from ipevidence.provenance import ArchiveDay, ArchiveProvenance

PRELUDE = """
import io, os, sys, tempfile, zipfile
from hypothesis import HealthCheck, given, settings, strategies as st
SETTINGS = settings(max_examples={n}, deadline=2000, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))
work = tempfile.mkdtemp(dir=".")
calls = [0]
"""


def sample_file(folder: Path) -> Path:
    addr, _ = ipv4_column(["8.8.8.8", "81.2.3.4", "1.1.1.1"])
    date = np.array(["2015-03-01", "2016-01-02", "2017-12-31"], dtype="datetime64[D]")
    gt = GroundTruth(
        family=4,
        probe_id=np.array([1, 2, 3], np.int32),
        address=addr,
        country=np.array([b"DE", b"GB", b"US"], "S2"),
        latitude=np.array([50.0, 51.5, 40.0]),
        longitude=np.array([8.0, -0.1, -74.0]),
        asn=np.array([3320, 2856, 7922], np.uint32),
        date=date,
        first_seen=date.copy(),
        last_seen=date.copy(),
        funnel=Funnel(4, (FunnelStep("records", "records read", 9, 6),)),
        provenance=ArchiveProvenance(
            "local folder",
            dt.date(2015, 1, 1),
            dt.date(2017, 12, 31),
            (ArchiveDay(dt.date(2015, 1, 1), "ok"),),
        ),
        parameters={"dedup": "first-seen"},
        removals=Removals(
            family=4,
            probe_id=np.array([9], np.int32),
            address=addr[:1].copy(),
            date=date[:1].copy(),
            reason=np.array(["cloud_asn:16509"]),
            daily_rules=("records",),
            daily_days=date[:1].copy(),
            daily_counts=np.array([[9]], np.int64),
        ),
    )
    return gt.save(folder / "good.npz")


def run_fuzz(tmp_path: Path, body: str, *args: str, examples: int = 80) -> list[int]:
    """Run a fuzz body in a limited child (in its own folder: hypothesis keeps a cache there);
    returns the example counts the body printed before its final ``ok``."""
    work = tmp_path / "fuzz"
    work.mkdir()
    out = run_limited(PRELUDE.format(n=examples) + body, cwd=work, args=args, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    *counts, last = out.stdout.split()
    assert last == "ok", out.stdout
    return [int(c) for c in counts]


def test_fuzz_ground_truth_bytes(tmp_path: Path) -> None:
    good = sample_file(tmp_path)
    body = """
from ipevidence.errors import GroundTruthFormatError
from ipevidence.groundtruth import GroundTruth
stored = open(sys.argv[1], "rb").read()
with zipfile.ZipFile(sys.argv[1]) as zf:
    members = {n: zf.read(n) for n in zf.namelist()}
names = sorted(members)
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
    for n, b in members.items():
        zf.writestr(n, b)
deflated = buf.getvalue()

def load(data):
    calls[0] += 1
    path = os.path.join(work, "f.npz")
    with open(path, "wb") as f:
        f.write(data)
    try:
        GroundTruth.load(path)
    except GroundTruthFormatError:
        pass

@SETTINGS
@given(st.booleans(), st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=6),
       st.integers(0, 1 << 20))
def raw(compressed, flips, cut):
    good = deflated if compressed else stored
    data = bytearray(good[:cut])
    for at, value in flips:
        if data:
            data[at % len(data)] = value
    load(bytes(data))

@SETTINGS
@given(st.sampled_from(names), st.integers(0, 400), st.binary(min_size=1, max_size=12), st.booleans())
def member(name, at, patch, drop):
    # a valid zip (right CRCs) whose member is patched in its .npy header, its metadata or its data
    content = dict(members)
    blob = bytearray(content[name])
    at = min(at, len(blob))
    blob[at:at + len(patch)] = patch
    content[name] = bytes(blob)
    if drop:
        content.pop(names[at % len(names)], None)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, b in content.items():
            zf.writestr(n, b)
    load(buf.getvalue())

raw()
print(calls[0])
member()
print(calls[0])
print("ok")
"""
    raw, both = run_fuzz(tmp_path, body, str(good), examples=200)
    assert raw >= 180
    assert both - raw >= 180


LOGS = """
from ipevidence import tamper
from ipevidence.errors import LogFormatError
M = tamper.ColumnMapping("time", "account", "address")
GOOD = {
    "jsonl": b'{"time": "2023-03-05T10:00:00Z", "account": "a", "address": "81.2.69.160"}',
    "entra": (b'{"createdDateTime": "2023-03-05T10:00:00Z", "userPrincipalName": "a", '
              b'"ipAddress": "81.2.69.160"}'),
    "csv": b"time,account,address\\n2023-03-05T10:00:00Z,a,81.2.69.160",
    "moodle": (b"Time,User full name,Affected user,Event context,Component,Event name,Description,Origin,"
               b'IP address\\n"05/03/23, 10:00",a,-,S,L,E,d,web,81.2.69.160'),
    "entra-array": (b'[{"createdDateTime": "2023-03-05T10:00:00Z", "userPrincipalName": "a", '
                    b'"ipAddress": "81.2.69.160"},\\n{"value": 1}]'),
    "ssh": b"2023-03-05T10:00:00Z h sshd[1]: Accepted password for a from 81.2.69.160 port 22 ssh2",
    "apache": b'81.2.69.160 - a [05/Mar/2023:10:00:00 +0000] "GET / HTTP/1.1" 200 5',
}
READ = {
    "jsonl": lambda p: tamper.read_jsonl(p, M, max_line_chars=4096),
    "entra": lambda p: tamper.read_entra_signins(p, max_line_chars=4096),
    "entra-array": lambda p: tamper.read_entra_signins(p, max_line_chars=4096),
    "csv": lambda p: tamper.read_csv(p, M, max_line_chars=4096),
    "moodle": lambda p: tamper.read_moodle(p, max_line_chars=4096),
    "ssh": lambda p: tamper.read_auth_log(p, year=2023, max_line_chars=4096),
    "apache": lambda p: tamper.read_access_log(p, max_line_chars=4096),
}
pieces = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([b"\\n", b"\\r", b"\\x00", b"\\xff\\xfe", b'"', b",", b"[" * 5000, b'{"a":' * 3000,
                     b"x" * 5000, b"\\xe9", b"\\u202e".decode("unicode_escape").encode(), b"[", b"{", b"]"]),
)

@SETTINGS
@given(st.sampled_from(sorted(GOOD)), st.lists(pieces, max_size=8), st.integers(0, 3))
def logs(fmt, extra, where):
    lines = GOOD[fmt].split(b"\\n")
    lines[min(where, len(lines)):min(where, len(lines))] = [b"".join(extra)]
    path = os.path.join(work, "log")
    with open(path, "wb") as f:
        f.write(b"\\n".join(lines) + b"\\n")
    calls[0] += 1
    try:
        r = READ[fmt](path)
    except LogFormatError:
        return
    assert r.problem_count == len(r.problem_lines)
    assert r.entries <= r.lines
    str(r), r.to_json()

logs()
print(calls[0])
print("ok")
"""


def test_fuzz_log_bytes_of_every_format(tmp_path: Path) -> None:
    (n,) = run_fuzz(tmp_path, LOGS, examples=300)
    assert n >= 280
