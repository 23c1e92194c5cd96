"""``ipevidence triage``: CSV and JSON-lines case lists with malformed lines, files larger than the
chunk size (sorted runs merged on disk), byte-identical outputs, the summary, the exit codes."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from ipevidence.addresses import format_ipv4
from ipevidence.cli import ExitCode, main
from ipevidence.groundtruth import Funnel, FunnelStep
from ipevidence.synthetic.errormodel import Cell, ErrorModelCase, build_case
from ipevidence.triage import assess_many

ISP = 8447
FUNNEL = Funnel(
    family=4, steps=(FunnelStep("border", "coordinates outside the declared country", 9_000, 90),)
)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[ErrorModelCase, Path, Path]:

    cells = []
    for y in range(2015, 2023):
        cells.append(Cell("DE", y, 400, {"AT": 2}))
        cells.append(Cell("AT", y, 250, {"DE": 3}))
        cells.append(Cell("FR", y, 200, {"BE": 20 if y == 2019 else 1}))
    case = build_case(cells, seed=3, funnel=FUNNEL)
    folder = tmp_path_factory.mktemp("triage")
    gt_path = case.ground_truth.save(folder / "gt.npz")
    db = case.write_bin(folder / "db.BIN", build_date=dt.date(2022, 12, 31))
    return case, Path(gt_path), db


def sample_rows(case: ErrorModelCase, n: int = 120, seed: int = 1) -> list[dict[str, str]]:
    rng = np.random.default_rng(seed)
    ips = format_ipv4(case.ground_truth.address[rng.choice(len(case.ground_truth), n)])
    rows = []
    for i, ip in enumerate(ips):
        day = dt.date(2016, 1, 1) + dt.timedelta(days=int(rng.integers(0, 7 * 365)))
        rows.append(
            {
                "id": f"C{i:04d}",
                "ip": ip,
                "when": f"{day.isoformat()}T{int(rng.integers(0, 24)):02d}:15:00Z",
                "country": ["", "DE", "AT", "FR", "XX"][int(rng.integers(5))],
                "asn": ["", str(ISP), "AS16509", "zero"][int(rng.integers(4))],
            }
        )
    rows += [
        {"id": "BAD1", "ip": "192.168.1.1", "when": "2021-05-01T10:00:00Z", "country": "", "asn": ""},
        {"id": "BAD2", "ip": "no-address", "when": "2021-05-01T10:00:00Z", "country": "", "asn": ""},
        {"id": "BAD3", "ip": ips[0], "when": "last tuesday", "country": "", "asn": ""},
        {"id": "BAD4", "ip": ips[1], "when": "2030-01-01T00:00:00Z", "country": "", "asn": ""},
        {"id": "BAD5", "ip": "2a00:1450::1", "when": "2021-05-01T10:00:00Z", "country": "", "asn": ""},
    ]
    return rows


def write_csv_cases(path: Path, rows: list[dict[str, str]]) -> list[int]:
    """The cases as CSV with two malformed lines; returns the malformed line numbers."""
    lines = ["id,ip,when,country,asn"]
    bad = []
    for i, r in enumerate(rows):
        lines.append(",".join(r[k] for k in ("id", "ip", "when", "country", "asn")))
        if i == 10:
            lines.append("only,three,fields")
            bad.append(len(lines))
        if i == 50:
            lines.append("")  # blank: not a case, not malformed
    lines.append("x,y,z,w,v,u")
    bad.append(len(lines))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return bad


def write_jsonl_cases(path: Path, rows: list[dict[str, str]]) -> list[int]:
    out = []
    bad = []
    for i, r in enumerate(rows):
        rec: dict[str, object] = {
            "case": {"id": r["id"]},
            "ip": r["ip"],
            "when": r["when"],
            "country": r["country"] or None,
        }
        if r["asn"]:
            rec["asn"] = int(r["asn"]) if r["asn"].isdigit() else r["asn"]
        out.append(json.dumps(rec))
        if i == 5:
            out.append("{not json")
            bad.append(len(out))
        if i == 6:
            out.append("[1, 2, 3]")
            bad.append(len(out))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return bad


def run(gt: Path, db: Path, cases: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "--ground-truth",
            str(gt),
            "--database",
            str(db),
            "--quiet",
            "triage",
            str(cases),
            "-o",
            str(out),
            "--case-id-column",
            "id" if cases.suffix == ".csv" else "case.id",
            "--address-column",
            "ip",
            "--time-column",
            "when",
            "--country-column",
            "country",
            "--asn-column",
            "asn",
            *extra,
        ]
    )


def read_results(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_csv_cases_with_malformed_lines(files: tuple[ErrorModelCase, Path, Path], tmp_path: Path) -> None:
    case, gt, db = files
    rows = sample_rows(case)
    bad = write_csv_cases(tmp_path / "cases.csv", rows)
    assert run(gt, db, tmp_path / "cases.csv", tmp_path / "out", "--results", "csv,jsonl") == ExitCode.OK
    got = read_results(tmp_path / "out" / "cases.csv")
    assert len(got) == len(rows)  # every case is a result; malformed lines are not cases
    summary = json.loads((tmp_path / "out" / "summary.json").read_text("utf-8"))
    assert summary["provenance"]["input"]["malformed_line_numbers"] == bad
    assert summary["provenance"]["input"]["blank_lines"] == 1
    assert summary["totals"]["cases"] == len(rows)
    by_id = {r["case_id"]: r for r in got}
    assert by_id["BAD1"]["reason"] == "not_global_address"
    assert by_id["BAD2"]["reason"] == "invalid_address"
    assert by_id["BAD3"]["reason"] == "invalid_date"
    assert by_id["BAD4"]["reason"] == "date_outside_ground_truth"
    assert by_id["BAD5"]["reason"] == "no_ground_truth_for_family"
    # the same cases through the library give the same results (the time's UTC date)
    lib = assess_many(
        [r["ip"] for r in rows],
        [r["when"][:10] if r["when"][:4].isdigit() else r["when"] for r in rows],
        claimed_countries=[r["country"] or None for r in rows],
        asns=[
            None
            if not r["asn"]
            else (
                int(r["asn"])
                if r["asn"].isdigit()
                else int(r["asn"][2:])
                if r["asn"].startswith("AS")
                else r["asn"]
            )
            for r in rows
        ],
        ground_truth=case.ground_truth,
        database=db,
        case_ids=[r["id"] for r in rows],
    )
    for rec in lib:
        out = by_id[str(rec.case_id)]
        assert out["outcome"] == rec.outcome
        assert out["reason"] == rec.reason
        assert out["likelihood_ratio"] == ("" if rec.likelihood_ratio is None else repr(rec.likelihood_ratio))
    # sorted by located country (not located last), then strength of evidence
    located = [r["located_country"] or "~~" for r in got]
    assert located == sorted(located)
    rank = {"valid": 0, "insufficient data": 1, "not valid": 2, "cannot be assessed": 3}
    for a, b in itertools.pairwise(got):
        if a["located_country"] == b["located_country"]:
            assert rank[a["outcome"]] <= rank[b["outcome"]]
    jl = (tmp_path / "out" / "cases.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(x)["case_id"] for x in jl] == [r["case_id"] for r in got]
    for name in ("summary.txt", "summary.md", "summary.html"):
        assert (tmp_path / "out" / name).stat().st_size > 0


def test_jsonl_cases_with_malformed_lines(files: tuple[ErrorModelCase, Path, Path], tmp_path: Path) -> None:
    case, gt, db = files
    rows = sample_rows(case, 60, seed=2)
    bad = write_jsonl_cases(tmp_path / "cases.jsonl", rows)
    assert run(gt, db, tmp_path / "cases.jsonl", tmp_path / "out", "--results", "jsonl") == ExitCode.OK
    got = [json.loads(x) for x in (tmp_path / "out" / "cases.jsonl").read_text("utf-8").splitlines()]
    assert len(got) == len(rows)
    assert {g["case_id"] for g in got} == {r["id"] for r in rows}
    summary = json.loads((tmp_path / "out" / "summary.json").read_text("utf-8"))
    assert summary["provenance"]["input"]["malformed_line_numbers"] == bad
    assert summary["provenance"]["input"]["format"] == "jsonl"


def test_a_file_larger_than_the_chunk_size_gives_the_same_bytes(
    files: tuple[ErrorModelCase, Path, Path], tmp_path: Path
) -> None:
    """Chunks of 7 cases: 18 sorted runs on disk merged block by block, the same files as one chunk."""
    case, gt, db = files
    rows = sample_rows(case, 120, seed=3)
    write_csv_cases(tmp_path / "cases.csv", rows)
    one = tmp_path / "one"
    many = tmp_path / "many"
    assert run(gt, db, tmp_path / "cases.csv", one, "--results", "csv,jsonl", "--no-figures") == ExitCode.OK
    assert (
        run(
            gt,
            db,
            tmp_path / "cases.csv",
            many,
            "--results",
            "csv,jsonl",
            "--no-figures",
            "--chunk-size",
            "7",
        )
        == ExitCode.OK
    )
    for name in ("cases.csv", "cases.jsonl", "summary.txt", "summary.md", "summary.html"):
        assert (one / name).read_bytes() == (many / name).read_bytes(), name
    a = json.loads((one / "summary.json").read_text("utf-8"))
    b = json.loads((many / "summary.json").read_text("utf-8"))
    assert a["provenance"]["reading"]["chunk_size"] != b["provenance"]["reading"]["chunk_size"]
    a["provenance"]["reading"].pop("chunk_size")
    b["provenance"]["reading"].pop("chunk_size")
    assert a == b
    assert not [p for p in many.iterdir() if p.name.startswith(".")]  # no runs left behind


def test_same_inputs_same_bytes(files: tuple[ErrorModelCase, Path, Path], tmp_path: Path) -> None:
    case, gt, db = files
    rows = sample_rows(case, 80, seed=4)
    write_csv_cases(tmp_path / "cases.csv", rows)
    formats = "csv,jsonl"
    try:
        import pyarrow  # noqa: F401

        formats += ",parquet"
    except ImportError:
        pass
    assert run(gt, db, tmp_path / "cases.csv", tmp_path / "a", "--results", formats) == ExitCode.OK
    assert run(gt, db, tmp_path / "cases.csv", tmp_path / "b", "--results", formats) == ExitCode.OK
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_parquet_without_pyarrow_names_the_extra(
    files: tuple[ErrorModelCase, Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pyarrow is in the test extra: hide it, as on a machine without the [arrow] extra
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    case, gt, db = files
    write_csv_cases(tmp_path / "cases.csv", sample_rows(case, 10))
    assert (
        run(gt, db, tmp_path / "cases.csv", tmp_path / "out", "--results", "parquet") == ExitCode.UNAVAILABLE
    )
    assert "ipevidence[arrow]" in capsys.readouterr().err


def test_exit_codes(files: tuple[ErrorModelCase, Path, Path], tmp_path: Path) -> None:
    case, gt, db = files
    write_csv_cases(tmp_path / "cases.csv", sample_rows(case, 10))
    assert run(gt, db, tmp_path / "missing.csv", tmp_path / "o1") == ExitCode.DATA_ERROR
    assert run(gt, db, tmp_path / "cases.csv", tmp_path / "o2", "--results", "xml") == ExitCode.USAGE
    assert run(gt, db, tmp_path / "cases.csv", tmp_path / "o3", "--tz", "Mars/Olympus") == ExitCode.USAGE
    (tmp_path / "other.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    assert run(gt, db, tmp_path / "other.csv", tmp_path / "o4") == ExitCode.DATA_ERROR  # no such columns
    (tmp_path / "junk.jsonl").write_text("not json\n[1]\n", encoding="utf-8")
    assert (
        run(gt, db, tmp_path / "junk.jsonl", tmp_path / "o5") == ExitCode.DATA_ERROR
    )  # every line malformed
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    assert run(gt, db, tmp_path / "cases.csv", tmp_path / "afile") == ExitCode.DATA_ERROR  # -o is a file


def test_times_in_a_zone_and_epoch(files: tuple[ErrorModelCase, Path, Path], tmp_path: Path) -> None:
    """A naive time is read in --tz; the evidence date is its calendar date in --date-zone (UTC)."""
    case, gt, db = files
    ip = format_ipv4(case.ground_truth.address[:1])[0]
    (tmp_path / "c.csv").write_text(
        "id,ip,when\nA," + ip + ",2021-12-31 23:30:00\nB," + ip + ",2022-01-01 00:30:00\n", encoding="utf-8"
    )
    assert (
        main(
            [
                "--ground-truth",
                str(gt),
                "--database",
                str(db),
                "-q",
                "triage",
                str(tmp_path / "c.csv"),
                "-o",
                str(tmp_path / "o"),
                "--case-id-column",
                "id",
                "--address-column",
                "ip",
                "--time-column",
                "when",
                "--tz",
                "Europe/Berlin",
                "--no-figures",
            ]
        )
        == ExitCode.OK
    )
    got = {r["case_id"]: r["date"] for r in read_results(tmp_path / "o" / "cases.csv")}
    assert got == {"A": "2021-12-31", "B": "2021-12-31"}  # 00:30 in Berlin is 23:30 UTC the day before
    (tmp_path / "e.csv").write_text(f"id,ip,when\nA,{ip},1640995200\n", encoding="utf-8")  # 2022-01-01Z
    assert (
        main(
            [
                "--ground-truth",
                str(gt),
                "--database",
                str(db),
                "-q",
                "triage",
                str(tmp_path / "e.csv"),
                "-o",
                str(tmp_path / "e"),
                "--case-id-column",
                "id",
                "--address-column",
                "ip",
                "--time-column",
                "when",
                "--time-format",
                "epoch",
                "--no-figures",
            ]
        )
        == ExitCode.OK
    )
    assert read_results(tmp_path / "e" / "cases.csv")[0]["date"] == "2022-01-01"
