"""Hostile outputs and command lines (issue 12, items 13, 14, 15, 19, 20 and 23), each run in a child
process under the memory limit: output paths that are not regular files, report sets cut by a kill,
account names that forge Markdown and text, out-of-range ASNs, builds without a usable day, and a
reader of standard output that goes away."""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from limits import MEMORY_LIMIT, run_cli_limited, run_limited

from ipevidence._safetext import markdown, plain
from ipevidence.cli import parse_asn

T = "2023-03-05T10:{:02d}:00Z"


@pytest.fixture
def specials(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """Paths that exist and are not regular files: a symlink to a file, a FIFO, a socket and (as
    root, which the tests run as) a character device like /dev/full."""
    victim = tmp_path / "victim.txt"
    victim.write_text("evidence\n")
    out = {"symlink": tmp_path / "link", "fifo": tmp_path / "fifo", "socket": tmp_path / "sock"}
    out["symlink"].symlink_to(victim)
    os.mkfifo(out["fifo"])
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(out["socket"]))
    if os.geteuid() == 0:
        out["device"] = tmp_path / "full"
        os.mknod(out["device"], stat.S_IFCHR | 0o666, os.makedev(1, 7))
    yield out
    sock.close()


def kinds(paths: dict[str, Path]) -> dict[str, int]:
    return {k: stat.S_IFMT(os.lstat(p).st_mode) for k, p in paths.items()}


def test_build_refuses_an_output_that_is_not_a_regular_file(
    tmp_path: Path, specials: dict[str, Path]
) -> None:
    before = kinds(specials)
    archive = tmp_path / "archive"
    archive.mkdir()
    for name, path in specials.items():
        out = run_cli_limited(
            ["build", "2020-01-01", "2020-01-02", "--source", str(archive), "-o", str(path)], timeout=60
        )
        assert out.returncode == 3, (name, out.stderr)
        assert "not a regular file" in out.stderr, out.stderr
        out = run_cli_limited(
            [
                "build",
                "2020-01-01",
                "2020-01-02",
                "--source",
                str(archive),
                "-o",
                "x.npz",
                "--csv",
                str(path),
            ],
            cwd=tmp_path,
            timeout=60,
        )
        assert out.returncode == 3, (name, out.stderr)
    assert kinds(specials) == before  # nothing replaced
    assert (tmp_path / "victim.txt").read_text() == "evidence\n"
    assert not (tmp_path / "x.npz").exists()


def test_every_writer_refuses_them(tmp_path: Path, specials: dict[str, Path]) -> None:
    code = """
import sys
from pathlib import Path
from ipevidence._io import atomic_write_text
from ipevidence.errors import OutputPathError
from ipevidence.groundtruth import GroundTruth
from ipevidence.report.document import Report, Section
for p in sys.argv[1:]:
    for write in (lambda: GroundTruth.empty(4).save(p), lambda: GroundTruth.empty(4).to_csv(p),
                  lambda: atomic_write_text(p, "x")):
        try:
            write()
        except OutputPathError as exc:
            print("refused", exc)
        else:
            print("WRITTEN", p)
# a report folder path that is a file (or a FIFO) is refused too
try:
    Report("r", (Section("s"),)).write(sys.argv[-1])
except OutputPathError as exc:
    print("refused", exc)
"""
    before = kinds(specials)
    out = run_limited(code, args=tuple(str(p) for p in specials.values()), timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 3 * len(specials) + 1
    assert all(line.startswith("refused") for line in lines), out.stdout
    assert kinds(specials) == before


def test_report_and_demo_refuse_a_folder_path_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    for argv in (["report", "--date", "2020-01-01", "-o", "afile"], ["demo", "-o", "afile"]):
        out = run_cli_limited(argv, cwd=tmp_path, timeout=60)
        assert out.returncode == 3, out.stderr
        assert "not a directory" in out.stderr
    assert (tmp_path / "afile").read_text() == "x"


WRITE_REPORT = """
import os, sys
from ipevidence import _io
from ipevidence.report.document import Figure, Report, Section, Table
version, kill_after = sys.argv[2], int(sys.argv[3])
if kill_after:
    real, count = _io.atomic_write_bytes, [0]
    def dying(path, data, **kw):
        count[0] += 1
        if count[0] > kill_after:
            os._exit(9)  # as a kill -9 between two files of the set
        real(path, data, **kw)
    _io.atomic_write_bytes = dying
png = b"\\x89PNG\\r\\n\\x1a\\n" + version.encode()
section = Section("s", (f"version {version}",), tables=(Table("t", ("a",), ((1,),)),),
                  figures=(Figure("fig", "a figure", png, "caption"),))
report = Report(f"report {version}", (section,))
files = report.write(sys.argv[1])
print(files.manifest)
"""


def manifest_ok(folder: Path) -> bool:
    text = (folder / "report.sha256").read_text() if (folder / "report.sha256").exists() else ""
    if not text:
        return False
    for line in text.splitlines():
        digest, _, name = line.partition("  ")
        if hashlib.sha256((folder / name).read_bytes()).hexdigest() != digest:
            return False
    return True


def test_a_report_set_is_never_a_mix(tmp_path: Path) -> None:
    folder = tmp_path / "report"
    out = run_limited(WRITE_REPORT, args=(str(folder), "1", "0"))
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in folder.iterdir()) == [
        "figures",
        "report.html",
        "report.json",
        "report.md",
        "report.sha256",
    ]
    assert manifest_ok(folder)
    # killed after 2 of the 5 files of version 2: no manifest vouches for the mix
    out = run_limited(WRITE_REPORT, args=(str(folder), "2", "2"))
    assert out.returncode == 9
    assert (
        "version 2" in (folder / "report.html").read_text()
        or "version 2" in (folder / "report.md").read_text()
    )
    assert not manifest_ok(folder)
    from ipevidence._io import verify_file_set

    assert verify_file_set(folder, manifest="report.sha256") == [
        "report.sha256: missing (the set is incomplete or was interrupted)"
    ]
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary file left
    # a kill -9 inside a file's write leaves its temporary file: the next write of the set removes it
    (folder / ".report.md.k1ll3d.tmp").write_text("half a report")
    # the next write makes a whole set again
    assert run_limited(WRITE_REPORT, args=(str(folder), "3", "0")).returncode == 0
    assert manifest_ok(folder)
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]
    assert "version 3" in (folder / "report.md").read_text()


def test_a_new_report_folder_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    folder = tmp_path / "new"
    out = run_limited(WRITE_REPORT, args=(str(folder), "1", "3"))
    assert out.returncode == 9
    assert not folder.exists()  # a reader sees no report, never part of one
    out = run_limited(WRITE_REPORT, args=(str(folder), "1", "0"))
    assert out.returncode == 0
    assert manifest_ok(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new"]  # the killed attempt's folder is gone


HOSTILE_ACCOUNTS = [
    "mallory\n| forged | row |\n# Forged heading",
    "\u202egnp.exe",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    "esc\x1b[31mred",
    "&#x202e;entity",
]


def test_tamper_text_and_markdown_neutralise_account_names(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    lines = []
    for i, account in enumerate(HOSTILE_ACCOUNTS):
        for j, address in enumerate(("81.2.69.160", "1.0.16.1")):  # GB then JP a minute later
            lines.append(json.dumps({"time": T.format(2 * i + j), "account": account, "address": address}))
    log.write_text("\n".join(lines) + "\n")
    for mode in ("--markdown", None):
        argv = ["tamper", str(log), "--format", "jsonl"] + ([mode] if mode else [])
        out = run_cli_limited(argv, timeout=60)
        assert out.returncode == 1, out.stderr  # impossible travel for every account
        text = out.stdout
        assert "\u202e" not in text
        assert "\x1b" not in text
        assert "\\u202e" in text
        assert "\\x1b" in text
        assert not any(line.startswith(("| forged", "# Forged")) for line in text.splitlines())
        if mode:
            for markup in ("<script>", "<img", "](javascript", "&#x202e;"):
                assert not re.search(r"(?<!\\)" + re.escape(markup), text), markup
            assert "\\<script>" in text
    json_out = run_cli_limited(["tamper", str(log), "--format", "jsonl", "--json"], timeout=60)
    accounts = [a["account"] for a in json.loads(json_out.stdout)["accounts"]]
    assert sorted(accounts) == sorted(HOSTILE_ACCOUNTS)  # JSON keeps the exact values
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.jsonl"]


def test_report_markdown_and_text_neutralise_input_text() -> None:
    code = """
import re
from ipevidence.report.document import Report, Section, Table
bad = "db\\n# forged <script>x</script> \\u202e [a](b)"
pre = "```\\n" + bad.replace("\\n", " ")  # multi-line by design (the library's own text)
r = Report(bad, (Section(bad, (bad,), (bad,), (Table(bad, (bad,), ((bad,),), bad),), preformatted=pre),),
           notes=(bad,))
md, text = r.to_markdown(), str(r)
assert "\\u202e" not in md, "bidi"
assert "\\u202e" not in text, "bidi"
assert not any(line.startswith("# forged") for line in (md + "\\n" + text).splitlines()), "newline"
body = md.split("````")  # the preformatted block gets a fence longer than the backticks it holds
assert len(body) == 3, "fence"
assert not re.search(r"(?<!\\\\)<script>", body[0] + body[2]), "markup"
print("ok")
"""
    out = run_limited(code, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@pytest.mark.parametrize("value", ["99999999999999", "4294967296", "0", "-1", "1.5", "True", "AS", ""])
def test_assess_refuses_an_asn_out_of_range(value: str) -> None:
    with pytest.raises(Exception, match=r"AS number|out of range"):
        parse_asn(value)


def test_assess_asn_errors_are_usage_errors_at_the_command() -> None:
    for value in ("99999999999999", "0", "1.5"):
        out = run_cli_limited(["assess", "8.8.8.8", "--date", "2020-01-01", "--asn", value], timeout=60)
        assert out.returncode == 2, out.stderr
        assert "AS number" in out.stderr
    assert parse_asn("AS15169") == parse_asn("15169") == 15169
    assert parse_asn("4294967295") == 2**32 - 1


def test_build_with_no_usable_day_exits_3_and_writes_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "20200101.json.bz2").write_bytes(b"BZh9 not really bzip2")
    for source in (empty, corrupt):
        out = run_cli_limited(
            ["build", "2020-01-01", "2020-01-01", "--source", str(source), "-o", "gt.npz", "--csv", "gt.csv"],
            cwd=tmp_path,
            timeout=60,
        )
        assert out.returncode == 3, out.stderr
        assert "no usable archive day" in out.stderr
        assert "nothing written" in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt", "empty"]


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    lines = [
        json.dumps(
            {"time": f"2023-03-05T{h:02d}:{m:02d}:00Z", "account": f"user{h}", "address": "81.2.69.160"}
        )
        for h in range(24)
        for m in range(60)
    ]
    log.write_text("\n".join(lines) + "\n")
    argv = [sys.executable, "-m", "ipevidence", "tamper", str(log), "--format", "jsonl", "--json"]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_limit,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"{"  # like `| head -1`
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err  # the outcome (no finding), not an error
    assert b"Broken pipe" not in err
    assert b"Errno 32" not in err
    assert b"Exception ignored" not in err


@settings(max_examples=300, deadline=500, database=None, derandomize=True)
@given(st.text(max_size=60))
def test_neutralised_text_is_printable_and_inert_in_markdown(text: str) -> None:
    shown = plain(text)
    assert shown.isprintable()
    assert "\n" not in shown
    md = markdown(text)
    assert md.isprintable()
    # every markup character is escaped by a backslash that is not itself escaped
    for m in re.finditer(r"[<`*\[\]|~]", md):
        backslashes = len(md[: m.start()]) - len(md[: m.start()].rstrip("\\"))
        assert backslashes % 2 == 1, (text, md)
    if text.isprintable() and not re.search(r"[\\<`*\[\]|~&_]", text):
        assert md == shown == text  # ordinary text is left as it was
