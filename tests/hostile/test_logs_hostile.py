"""Hostile logs (issue 12, items 5, 7 and 17): an over-long line, a line nested 100,000 deep and
bytes that are not UTF-8 are each counted against the line or file, in every log format, under a
memory limit; nothing is written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from limits import MEMORY_LIMIT, run_cli_limited, run_limited

#: child code: argv[1] is a JSON list of [reader, path, kwargs]; one JSON line out per read
READ = """
import json, sys
from ipevidence import tamper
from ipevidence.cli import exit_code_for
for name, path, kwargs in json.loads(sys.argv[1]):
    if "mapping" in kwargs:
        kwargs["mapping"] = tamper.ColumnMapping(**kwargs["mapping"])
    try:
        r = getattr(tamper, name)(path, **kwargs)
    except BaseException as exc:
        error = {"error": type(exc).__name__, "message": str(exc)[:300], "code": int(exit_code_for(exc))}
        print(json.dumps(error))
        continue
    print(json.dumps({
        "entries": r.entries, "lines": r.lines, "problem_lines": [int(x) for x in r.problem_lines],
        "reasons": dict(r.problem_reasons), "replaced": r.replaced_bytes,
        "accounts": sorted(r.table.accounts),
    }))
"""

T = "2023-03-05T10:00:00Z"
MAP = {"time": "time", "account": "account", "address": "address"}
GOOD: dict[str, Callable[[str], str]] = {
    "read_jsonl": lambda a: json.dumps(
        {"time": T, "account": a, "address": "81.2.69.160"}, ensure_ascii=False
    ),
    "read_entra_signins": lambda a: json.dumps(
        {"createdDateTime": T, "userPrincipalName": a, "ipAddress": "81.2.69.160", "appDisplayName": "x"},
        ensure_ascii=False,
    ),
    "read_csv": lambda a: f"{T},{a},81.2.69.160",
    "read_moodle": lambda a: f'"05/03/23, 10:00",{a},-,System,Logs,Event,desc,web,81.2.69.160',
    "read_auth_log": lambda a: f"{T} host sshd[1]: Accepted password for {a} from 81.2.69.160 port 22 ssh2",
    "read_access_log": lambda a: f'81.2.69.160 - {a} [05/Mar/2023:10:00:00 +0000] "GET / HTTP/1.1" 200 5',
}
HEADER = {
    "read_csv": "time,account,address",
    "read_moodle": "Time,User full name,Affected user,Event context,Component,Event name,Description,"
    "Origin,IP address",
}
Job = tuple[str, Path, dict[str, Any]]
KWARGS: dict[str, dict[str, Any]] = {"read_csv": {"mapping": MAP}, "read_jsonl": {"mapping": MAP}}


def read(tmp_path: Path, jobs: list[Job], limit: int | None = None) -> list[Any]:
    before = sorted(p.name for p in tmp_path.iterdir())
    spec = json.dumps([[name, str(path), {**KWARGS.get(name, {}), **kw}] for name, path, kw in jobs])
    out = run_limited(READ, args=(spec,), timeout=120, limit=limit or MEMORY_LIMIT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # a reader writes nothing
    return [json.loads(line) for line in out.stdout.splitlines()]


def log_file(tmp_path: Path, reader: str, middle: bytes, name: str = "") -> Path:
    """A log of ``reader``'s format: a good line, ``middle`` (line 2 of the entries), a good line."""
    head = (HEADER[reader] + "\n").encode() if reader in HEADER else b""
    path = tmp_path / (name or f"{reader}.log")
    path.write_bytes(
        head + GOOD[reader]("alice").encode() + b"\n" + middle + b"\n" + GOOD[reader]("bob").encode() + b"\n"
    )
    return path


def test_an_over_long_line_is_one_malformed_line_in_every_format(tmp_path: Path) -> None:
    jobs: list[Job] = [(r, log_file(tmp_path, r, b"x" * 5000), {"max_line_chars": 1000}) for r in GOOD]
    for (reader, _, _), r in zip(jobs, read(tmp_path, jobs), strict=True):
        assert "error" not in r, (reader, r)
        assert r["problem_lines"] == [3 if reader in HEADER else 2], (reader, r)
        assert list(r["reasons"]) == ["line longer than 1,000 characters (not read; see max_line_chars)"]
        assert r["entries"] == 2, (reader, r)
        assert r["accounts"] == ["alice", "bob"], (reader, r)


def test_a_160_mib_line_is_read_in_bounded_memory(tmp_path: Path) -> None:
    # 160 MiB without a newline under a 256 MiB address space: holding the line would not fit
    line = b"x" * (160 << 20)
    jobs: list[Job] = [(r, log_file(tmp_path, r, line), {}) for r in ("read_jsonl", "read_csv")]
    del line
    for (reader, _, _), r in zip(jobs, read(tmp_path, jobs, limit=256 << 20), strict=True):
        assert r["problem_lines"] == [3 if reader in HEADER else 2], (reader, r)
        assert list(r["reasons"]) == ["line longer than 1,048,576 characters (not read; see max_line_chars)"]
        assert r["entries"] == 2


def test_the_line_cap_is_configurable(tmp_path: Path) -> None:
    path = log_file(tmp_path, "read_jsonl", GOOD["read_jsonl"]("carol" * 100).encode())
    (r,) = read(tmp_path, [("read_jsonl", path, {"max_line_chars": 200})])
    assert r["problem_lines"] == [2]
    assert r["entries"] == 2
    assert list(r["reasons"]) == ["line longer than 200 characters (not read; see max_line_chars)"]


def test_a_line_nested_100000_deep_is_one_malformed_line(tmp_path: Path) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    deep_object = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    jobs: list[Job] = [
        ("read_jsonl", log_file(tmp_path, "read_jsonl", deep, "a.jsonl"), {}),
        ("read_jsonl", log_file(tmp_path, "read_jsonl", deep_object, "b.jsonl"), {}),
        ("read_entra_signins", log_file(tmp_path, "read_entra_signins", deep, "c.json"), {}),
    ]
    for r in read(tmp_path, jobs):
        assert r["problem_lines"] == [2], r
        assert r["reasons"] == {"JSON nested too deeply": 1}
        assert r["entries"] == 2


def test_an_entra_array_streams_record_by_record(tmp_path: Path) -> None:
    rec = GOOD["read_entra_signins"]
    deep = tmp_path / "deep.json"  # a record nested 100,000 deep inside the portal's array
    deep.write_text("[" + rec("a") + "," + "[" * 100_000 + "]" * 100_000 + "," + rec("b") + "]")
    graph = tmp_path / "graph.json"  # a Graph response, the deep record in its value array
    graph.write_text('{"@odata.context": "x", "value": ' + deep.read_text() + ', "@odata.nextLink": null}')
    long = tmp_path / "long.json"  # one record over the cap that does not come in one piece
    long.write_text("[" + rec("a") + ',{"x": "' + "y" * 300_000 + '"}]')
    spaced = tmp_path / "spaced.json"  # 160 MiB of white space: the document is never held whole
    with spaced.open("w") as f:
        f.write("[" + rec("a") + "," + " " * (160 << 20) + rec("b") + "]")
    broken = tmp_path / "broken.json"
    broken.write_text("[" + rec("a") + "," + rec("b"))
    results = read(
        tmp_path,
        [
            ("read_entra_signins", deep, {}),
            ("read_entra_signins", graph, {}),
            ("read_entra_signins", long, {"max_line_chars": 100_000}),
            ("read_entra_signins", spaced, {}),
            ("read_entra_signins", broken, {}),
        ],
        limit=256 << 20,
    )
    for r in results[:2]:
        assert r["problem_lines"] == [2], r
        assert r["reasons"] == {"JSON nested too deeply": 1}
        assert r["accounts"] == ["a", "b"]
    assert results[2]["error"] == "LogFormatError"
    assert "record 2 is longer than 100,000 characters" in results[2]["message"]
    assert results[3]["accounts"] == ["a", "b"]
    assert results[3]["problem_lines"] == []
    assert results[4]["error"] == "LogFormatError"
    assert results[4]["code"] == 3


def test_a_one_line_entra_array_longer_than_the_line_cap_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "one-line.json"
    path.write_text("[" + ",".join([GOOD["read_entra_signins"]("a")] * 50) + "]")
    (r,) = read(tmp_path, [("read_entra_signins", path, {"max_line_chars": 1000})])
    assert r["entries"] == 50
    assert r["problem_lines"] == []


def test_latin1_bytes_are_counted_and_an_explicit_encoding_reads_them(tmp_path: Path) -> None:
    jobs: list[Job] = []
    for reader in GOOD:
        path = log_file(tmp_path, reader, GOOD[reader]("jos\u00e9").encode("latin-1"))
        jobs.append((reader, path, {}))
        jobs.append((reader, path, {"encoding": "latin-1"}))
    results = read(tmp_path, jobs)
    for (reader, _, kw), r in zip(jobs, results, strict=True):
        if kw:
            assert r["replaced"] == 0, (reader, r)
            assert "jos\u00e9" in r["accounts"], (reader, r)
        else:
            assert r["replaced"] == 1, (reader, r)
            assert "jos\ufffd" in r["accounts"], (reader, r)
        assert r["entries"] == 3


def test_strict_mode_refuses_undecodable_bytes_and_unknown_encodings(tmp_path: Path) -> None:
    path = log_file(tmp_path, "read_jsonl", GOOD["read_jsonl"]("jos\u00e9").encode("latin-1"))
    a, b = read(
        tmp_path, [("read_jsonl", path, {"strict": True}), ("read_jsonl", path, {"encoding": "nope"})]
    )
    assert a["error"] == "LogFormatError"
    assert "not valid utf-8" in a["message"]
    assert b["error"] == "LogFormatError"
    assert "unknown encoding" in b["message"]


def test_the_command_counts_replaced_bytes_and_takes_encoding(tmp_path: Path) -> None:
    path = log_file(tmp_path, "read_jsonl", GOOD["read_jsonl"]("jos\u00e9").encode("latin-1"))
    base = ["tamper", str(path), "--format", "jsonl", "--json"]
    out = run_cli_limited(base)
    assert out.returncode in (0, 1), out.stderr
    assert "1 bytes in" in out.stderr
    assert "--encoding" in out.stderr
    source = json.loads(out.stdout)["sources"][0]
    assert source["replaced_bytes"] == 1
    assert source["encoding"] == "utf-8"
    out = run_cli_limited([*base, "--encoding", "latin-1"])
    assert json.loads(out.stdout)["sources"][0]["replaced_bytes"] == 0
    assert "jos\u00e9" in out.stdout
    out = run_cli_limited([*base, "--max-line-length", "0"])
    assert out.returncode == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_the_command_survives_an_over_long_line(tmp_path: Path) -> None:
    path = log_file(tmp_path, "read_jsonl", b"[" * (8 << 20))
    out = run_cli_limited(["tamper", str(path), "--format", "jsonl"])
    assert out.returncode in (0, 1), out.stderr
    assert "1 malformed lines" in out.stderr
    assert "(lines 2)" in out.stderr


def test_a_lone_surrogate_escape_costs_one_line_or_one_field(tmp_path: Path) -> None:
    lone_account = b'{"time": "2023-03-05T10:05:00Z", "account": "x\\ud83d", "address": "81.2.69.160"}'
    lone_event = (
        b'{"time": "2023-03-05T10:06:00Z", "account": "carol", "address": "81.2.69.160", "event": "e\\udc00"}'
    )
    path = log_file(tmp_path, "read_jsonl", lone_account + b"\n" + lone_event)
    (r,) = read(tmp_path, [("read_jsonl", path, {"mapping": {**MAP, "event": "event"}})])
    assert r["problem_lines"] == [2]
    assert r["reasons"] == {"account is not valid Unicode (a lone surrogate escape)": 1}
    assert r["accounts"] == ["alice", "bob", "carol"]
    for mode in ("--json", "--markdown", None):
        argv = ["tamper", str(path), "--format", "jsonl", "--event-column", "event"]
        out = run_cli_limited(argv + ([mode] if mode else []))
        assert out.returncode in (0, 1), out.stderr
        assert "internal error" not in out.stderr
        if mode == "--json":
            events = [e["event"] for a in json.loads(out.stdout)["accounts"] for e in a["timeline"]]
            assert "e\ufffd" in events
