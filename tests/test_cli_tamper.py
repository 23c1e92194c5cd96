"""``ipevidence tamper`` on generated logs written in real formats (Moodle export, generic CSV)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ipevidence.backends import IP2LocationBackend
from ipevidence.cli import ExitCode
from ipevidence.defaults import DATABASE_ATTRIBUTION, default_database_path
from ipevidence.synthetic.logs import SyntheticLog, generate_log, write_csv, write_moodle_csv
from test_cli import run


@pytest.fixture(scope="module")
def log() -> SyntheticLog:
    backend = IP2LocationBackend(default_database_path())
    return generate_log(accounts=40, entries=600, days=10, seed=4, address_source=backend)


def test_moodle_export(log: SyntheticLog, tmp_path: Path) -> None:
    """A Moodle export holds the e-learning service's entries only; exit 1 exactly when findings."""
    path = tmp_path / "logs.csv"
    write_moodle_csv(log, path)
    out = run("tamper", str(path), "--format", "moodle", "--json", "-q")
    data = json.loads(out.stdout)
    rows = len(path.read_text(encoding="utf-8").splitlines()) - 1
    assert data["summary"]["entries"] == rows
    assert out.returncode == (ExitCode.NOT_VALID if data["findings"] else ExitCode.OK), out.stderr
    text = run("tamper", str(path), "--format", "moodle")
    assert text.stdout.startswith(f"Tamper analysis of {rows} entries")
    assert DATABASE_ATTRIBUTION in text.stderr


def test_csv_finds_exactly_the_planted_cases(log: SyntheticLog, tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    write_csv(log, path)
    args = ("--address-column", "ip", "--service-column", "service", "--event-column", "event")
    # the generator's cloud block 52.28.0.0/16 is really AWS eu-central-1: an AWS range file finds it
    aws = tmp_path / "ip-ranges.json"
    aws.write_text(
        json.dumps(
            {
                "syncToken": "1",
                "createDate": "2024-02-01-00-00-00",
                "prefixes": [{"ip_prefix": "52.28.0.0/16", "region": "eu-central-1", "service": "EC2"}],
            }
        ),
        encoding="utf-8",
    )
    out = run("tamper", str(path), "--format", "csv", *args, "--ranges", str(aws), "--json", "-q")
    assert out.returncode == ExitCode.NOT_VALID, out.stderr
    found = {(f["kind"], f["account"]) for f in json.loads(out.stdout)["findings"]}
    for case in log.cases:
        if case.finding is not None:
            assert (case.finding, case.account) in found
        else:  # a neighbour hop or a plausible flight must not be found
            assert not any(account == case.account for _, account in found)
    with path.open("a", encoding="utf-8") as f:
        f.write("yesterday,someone,not-an-address,mail,login\n")
    md = run("tamper", str(path), "--format", "csv", *args, "--markdown")
    assert md.returncode == ExitCode.NOT_VALID, md.stderr
    assert md.stdout.startswith("#")
    assert "ipevidence: warning: 1 malformed lines" in md.stderr


def test_clean_log_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "clean.csv"
    path.write_text(
        "time,account,address,service\n2024-03-01T10:00:00+00:00,alice,2.16.1.1,mail\n"
        "2024-03-01T12:00:00+00:00,alice,2.16.1.9,mail\n",
        encoding="utf-8",
    )
    out = run("tamper", str(path), "--format", "csv", "--service", "mail", "--json", "-q")
    assert out.returncode == ExitCode.OK, out.stderr
    assert json.loads(out.stdout)["findings"] == []


def test_missing_log_file(tmp_path: Path) -> None:
    out = run("tamper", str(tmp_path / "none.log"), "--format", "ssh")
    assert out.returncode == ExitCode.DATA_ERROR
    assert out.stderr.strip() == f"ipevidence: error: {tmp_path / 'none.log'}: no such log file"


def test_rejects_an_html_range_file(log: SyntheticLog, tmp_path: Path) -> None:
    """The real Azure download of 2022-12-31 was an HTML error page: one clear error line, exit 3."""
    from conftest import shared_file

    path = tmp_path / "log.csv"
    write_csv(log, path)
    azure = shared_file("cloud-ranges-2022-12-31/microsoft-azure-ip-ranges.json")
    out = run("tamper", str(path), "--format", "csv", "--address-column", "ip", "--ranges", str(azure))
    assert out.returncode == ExitCode.DATA_ERROR
    assert out.stderr.strip().startswith("ipevidence: error: ")
    assert "Traceback" not in out.stderr


def test_tamper_distance_territory_option_is_recorded(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(
        "Mar  3 10:00:01 host sshd[1]: Accepted password for alice from 2.16.1.1 port 50000 ssh2\n"
    )
    for territory in ("all", "main"):
        out = run(
            "tamper",
            str(log),
            "--format",
            "ssh",
            "--year",
            "2024",
            "--json",
            "-q",
            "--distance-territory",
            territory,
        )
        assert out.returncode == ExitCode.OK, out.stderr
        assert json.loads(out.stdout)["parameters"]["distance_territory"] == territory


def test_a_catalogue_geolocates_each_entry_with_the_build_of_its_day(tmp_path: Path) -> None:
    """With --database (twice) the log's entries are geolocated by the build nearest before each
    entry's day (METHOD.md section 11), and the JSON names the build of every entry."""
    from conftest import shared_file

    old = shared_file("ip2location-history/IP2LOCATION-LITE-DB1-2016-08-28.BIN")
    new = shared_file("ip2location/IP2LOCATION-LITE-DB1-2024-10-01.BIN")
    path = tmp_path / "log.csv"
    path.write_text(
        "time,account,address,service\n2017-03-01T10:00:00+00:00,alice,93.192.0.1,mail\n"
        "2025-03-01T12:00:00+00:00,alice,93.192.0.9,mail\n",
        encoding="utf-8",
    )
    args = ("--database", str(old), "--database", str(new), "tamper", str(path), "--format", "csv")
    out = run(*args, "--service", "mail", "--json", "-q")
    assert out.returncode == ExitCode.OK, out.stderr
    data = json.loads(out.stdout)
    assert data["summary"]["entries_per_database"] == {old.name: 1, new.name: 1}
    assert [d["name"] for d in data["databases"]] == [old.name, new.name]
    bad = run(*args, "--database-rule", "nearest")
    assert bad.returncode == ExitCode.USAGE
    assert "nearest before" in bad.stderr
