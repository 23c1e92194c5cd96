"""Hostile case lists (issue 12, the triage reader): an over-long line, a JSON line nested 100,000
deep, bytes that are not UTF-8, and random damage. Each is one counted malformed line (or replaced
bytes, counted), the other cases are read, and memory stays bounded; each case runs in a child
process under a memory limit."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from limits import run_limited

from ipevidence.errors import LogFormatError
from ipevidence.triage_io import CaseMapping, CaseReading, read_cases

HEADER = "id,address,time\n"
GOOD = "c1,93.192.0.1,2024-06-01T10:00:00Z\n"

_READ = """
import json, sys
from ipevidence.triage_io import CaseMapping, CaseReading, read_cases
reading = CaseReading("cases", "auto")
n = sum(len(c) for c in read_cases(sys.argv[1], CaseMapping(case_id="id"), reading=reading))
print(json.dumps({"cases": n, "malformed": reading.malformed_lines, "replaced": reading.replaced_bytes,
                  "reasons": [p["reason"] for p in reading.problems]}))
"""


def _read_limited(path: Path, limit: int) -> dict[str, object]:
    out = run_limited(_READ, limit=limit, args=(str(path),))
    assert out.returncode == 0, out.stderr[-2000:]
    data: dict[str, object] = json.loads(out.stdout)
    return data


def test_an_over_long_line_is_one_malformed_line_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write(HEADER + GOOD)
        block = "x" * (1 << 20)
        f.write("c2,")
        for _ in range(512):  # a 512 MiB line with no newline until its end
            f.write(block)
        f.write(",2024-06-01T10:00:00Z\n")
        f.write(GOOD.replace("c1", "c3"))
    # 384 MiB of address space: the reader (which imports numpy and scipy) could not hold the line
    data = _read_limited(path, 384 * 2**20)
    assert data["cases"] == 2
    assert data["malformed"] == [3]


def test_a_json_line_nested_100000_deep_is_one_malformed_line(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    good = json.dumps({"id": "c1", "address": "93.192.0.1", "time": "2024-06-01T10:00:00Z"})
    path.write_text(good + "\n" + "[" * 100_000 + "]" * 100_000 + "\n" + good + "\n", encoding="utf-8")
    data = _read_limited(path, 1536 * 2**20)
    assert data["cases"] == 2
    assert data["malformed"] == [2]


def test_bytes_that_are_not_utf8_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_bytes(
        (HEADER + GOOD).encode() + "c2,93.192.0.2,2024-06-01T10:00:00Z,caf\xe9\n".encode("latin-1")
    )
    data = _read_limited(path, 1536 * 2**20)
    assert data["replaced"] == 1
    assert data["cases"] + len(data["malformed"]) == 2  # type: ignore[arg-type, operator]


@settings(max_examples=150, deadline=2000, derandomize=True)
@given(
    st.binary(max_size=400),
    st.integers(0, 10_000),
    st.sampled_from(["cases.csv", "cases.jsonl"]),
)
def test_fuzz_case_list_bytes(noise: bytes, at: int, name: str) -> None:
    import tempfile

    if name.endswith(".csv"):
        base = (HEADER + GOOD * 5).encode()
    else:
        line = json.dumps({"id": "c", "address": "93.192.0.1", "time": "2024-06-01T10:00:00Z"}) + "\n"
        base = (line * 5).encode()
    cut = at % (len(base) + 1)
    data = base[:cut] + noise + base[cut:]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        reading = CaseReading("cases", "auto")
        try:
            n = sum(len(c) for c in read_cases(path, CaseMapping(case_id="id"), reading=reading))
        except LogFormatError:
            return
        assert n == reading.cases
        assert reading.cases + len(reading.malformed_lines) <= reading.lines
        assert all(1 <= line <= reading.lines for line in reading.malformed_lines)
