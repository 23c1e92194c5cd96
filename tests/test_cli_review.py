"""Review fixes in the command: a log no line of which parses is a data error, not a clean log."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipevidence.cli import ExitCode, main
from ipevidence.demo import _ordinal


def test_tamper_with_the_wrong_format_is_a_data_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "moodle.csv"
    log.write_text(
        "Time,User full name,Affected user,Event context,Component,Event name,Description,Origin,IP address\n"
        '"01/03/24, 01:42",u1,-,Course: X,System,Course login,login,web,81.19.62.222\n',
        encoding="utf-8",
    )
    code = main(["tamper", str(log), "--format", "ssh", "--year", "2024", "-q"])
    captured = capsys.readouterr()
    assert code == ExitCode.DATA_ERROR
    assert captured.out == ""
    err = captured.err.strip().splitlines()
    assert err[-1].startswith(
        f"ipevidence: error: {log}: no entry could be read as --format ssh (2 malformed"
    )
    assert "Traceback" not in captured.err
    # the right format reads it
    assert main(["tamper", str(log), "--format", "moodle", "-q"]) in (ExitCode.OK, ExitCode.NOT_VALID)


def test_an_empty_log_is_not_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "empty.log"
    log.write_text("", encoding="utf-8")
    assert main(["tamper", str(log), "--format", "ssh", "--year", "2024", "-q"]) == ExitCode.OK
    assert "0 entries" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("n", "text"), [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"), (21, "21st")]
)
def test_demo_ordinals(n: int, text: str) -> None:
    assert _ordinal(n) == text


def test_fetch_from_a_local_folder_does_not_claim_no_corrupt_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import datetime as dt

    from ipevidence.synthetic.archive import SyntheticArchiveConfig, generate_archive

    config = SyntheticArchiveConfig(seed=1, start=dt.date(2022, 1, 1), end=dt.date(2022, 1, 4), n_probes=20)
    truth = generate_archive(tmp_path / "arch", config)
    assert truth.corrupt_days  # one day is a truncated bzip2 stream
    code = main(["fetch", "2022-01-01", "2022-01-04", "--source", str(tmp_path / "arch"), "-q"])
    out = capsys.readouterr().out
    assert code == ExitCode.OK
    assert "days corrupt:   not checked (a local folder" in out
    assert "days corrupt:   0" not in out


def _moodle_log(tmp_path: Path) -> Path:
    from ipevidence.synthetic.logs import generate_log, write_moodle_csv

    log = tmp_path / "moodle.csv"
    write_moodle_csv(generate_log(accounts=30, entries=500, days=10), log)
    return log


def test_tamper_json_and_markdown_carry_the_attribution(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from ipevidence.defaults import DATABASE_ATTRIBUTION

    log = _moodle_log(tmp_path)
    main(["tamper", str(log), "--format", "moodle", "--json", "-q"])
    first = capsys.readouterr().out
    assert json.loads(first)["attribution"] == [DATABASE_ATTRIBUTION]
    main(["tamper", str(log), "--format", "moodle", "--json", "-q"])
    assert capsys.readouterr().out == first  # byte-identical
    main(["tamper", str(log), "--format", "moodle", "--markdown", "-q"])
    md = capsys.readouterr().out
    assert md.rstrip().endswith(f"## Data attribution\n\n- {DATABASE_ATTRIBUTION}")


@pytest.mark.parametrize("option", ["--probes", "--years", "--every"])
def test_demo_names_the_option_in_a_usage_error(
    option: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "-o", str(tmp_path / "d"), option, "0"]) == ExitCode.USAGE
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"ipevidence: error: {option} must be")
