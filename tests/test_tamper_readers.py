"""Readers of real log formats: realistic samples, malformed lines counted with line numbers."""

# ruff: noqa: E501  (the samples are real log lines, kept whole)

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipevidence.errors import InvalidAddressError, LogFormatError
from ipevidence.tamper import (
    ColumnMapping,
    LogEntry,
    LogTable,
    make_time_parser,
    parse_log_address,
    read_access_log,
    read_auth_log,
    read_csv,
    read_entra_signins,
    read_jsonl,
    read_moodle,
)

MOODLE = """\ufeffTime,User full name,Affected user,Event context,Component,Event name,Description,Origin,IP address
"25/03/23, 14:05",Jana Nováková,-,Course: Forensics 101,System,Course viewed,"The user with id '12' viewed the course with id '3'.",web,147.229.2.90
"25/03/23, 14:07",Jana Nováková,-,Quiz: Week 1,Quiz,Quiz attempt started,"The user with id '12' has started the attempt with id '45'
for the quiz with course module id '7'.",web,147.229.2.90
"25/03/23, 03:00",-,-,System,System,Scheduled task completed,"Task \\core\\task\\session_cleanup_task ran.",cli,
"25/03/23, 14:09",Petr Svoboda,-,Course: Forensics 101,System,User has logged in,"The user with id '13' has logged in.",web,2001:718:1:1::5
"32/03/23, 14:10",Petr Svoboda,-,Course: Forensics 101,System,Course viewed,"The user with id '13' viewed the course.",web,147.229.9.9
"25/03/23, 14:11",Petr Svoboda,-,Course: Forensics 101,System,Course viewed,"The user with id '13' viewed the course.",web,not-an-ip
"25/03/23, 14:12",Petr Svoboda,-,Course: Forensics 101
"25/03/23, 14:13",Petr Svoboda,-,Course: Forensics 101,System,Course viewed,"The user with id '13' viewed the course.",web,

"26/03/23, 09:30",Jana Nováková,-,Course: Forensics 101,System,Course viewed,"The user with id '12' viewed the course.",ws,::ffff:147.229.2.91
"""


def _utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> int:
    return int(dt.datetime(y, mo, d, h, mi, s, tzinfo=dt.timezone.utc).timestamp())


def test_moodle_export_with_malformed_lines() -> None:
    read = read_moodle(io.StringIO(MOODLE), tz="Europe/Prague")
    t = read.table
    assert read.format == "moodle"
    assert len(t) == 4
    assert read.lines == 12
    # line numbers: a record spanning two lines is numbered by its first line
    assert t.line.tolist() == [2, 3, 6, 12]
    assert read.problem_lines.tolist() == [7, 8, 9, 10]
    reasons = [p.reason for p in read.problems]
    assert reasons[0].startswith("unreadable time")
    assert reasons[1].startswith("invalid IP address")
    assert reasons[2] == "expected 9 fields, found 4"
    assert reasons[3] == "empty address"
    assert read.ignored == {"blank line": 1, "no IP address (origin cli)": 1}
    # 14:05 in Prague on 25 March 2023 (before the DST change) is 13:05 UTC
    assert int(t.time[0]) == _utc(2023, 3, 25, 13, 5)
    # 26 March 2023 09:30 is after the DST change: UTC+2
    assert int(t.time[3]) == _utc(2023, 3, 26, 7, 30)
    assert t.resolution == 60
    e = t.entry(0)
    assert e.account == "Jana Nováková"
    assert e.service == "moodle"
    assert e.event == "Course viewed"
    assert e.timestamp == dt.datetime(2023, 3, 25, 14, 5, tzinfo=ZoneInfo("Europe/Prague"))
    assert t.entry(2).address == "2001:718:1:1::5"
    assert t.entry(2).family == 6
    assert t.entry(3).address == "147.229.2.91"  # IPv4-mapped IPv6 stored as IPv4
    assert "malformed lines: 7, 8, 9, 10" in str(read)
    assert json.loads(read.to_json())["problem_lines"] == [7, 8, 9, 10]


def test_moodle_strict_raises_with_line_number() -> None:
    with pytest.raises(LogFormatError, match="line 7: unreadable time"):
        read_moodle(io.StringIO(MOODLE), strict=True)
    with pytest.raises(ValueError, match="line 7"):  # LogFormatError is also a ValueError
        read_moodle(io.StringIO(MOODLE), strict=True)


def test_moodle_other_locale_format_and_file(tmp_path: Path) -> None:
    path = tmp_path / "logs_course_3_20230325.csv"
    text = MOODLE.replace('"25/03/23, 14:05"', '"2023-03-25 14:05:59"')
    path.write_text(text, encoding="utf-8")
    read = read_moodle(path, time_format="%Y-%m-%d %H:%M:%S", tz="UTC")
    assert read.source == "logs_course_3_20230325.csv"
    assert int(read.table.time[0]) == _utc(2023, 3, 25, 14, 5, 59)
    assert read.table.resolution == 1
    assert read.table.sources == ("logs_course_3_20230325.csv",)
    # the other lines, in the English format, are now malformed for this format
    assert read.problem_count == 7


def test_moodle_missing_column_is_an_error() -> None:
    with pytest.raises(LogFormatError, match="no column 'IP address'"):
        read_moodle(io.StringIO("Time,User full name,Event name\n"))


AUTH_LOG = """Mar  5 14:02:11 gw sshd[1234]: Accepted publickey for alice from 203.0.113.5 port 52144 ssh2: RSA SHA256:Qk9Rk
Mar  5 14:02:11 gw sshd[1234]: pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)
Mar  5 14:03:01 gw CRON[2222]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)
Mar  5 14:05:42 gw sshd[1240]: Accepted password for bob from 2001:db8::7 port 40022 ssh2
Mar  5 14:06:00 gw sshd[1241]: Failed password for invalid user admin from 198.51.100.9 port 5555 ssh2
-- garbage that is not syslog --
Mar  5 14:07:00 gw sshd[1250]: Accepted password for carol from nowhere port 22 ssh2
Mar  5 14:07:30 gw sshd[1251]: Accepted password for
Dec 31 23:59:59 gw sshd[1]: Accepted publickey for dave from 192.0.2.1 port 1 ssh2

Jan  1 00:00:30 gw sshd[2]: Accepted publickey for dave from 192.0.2.1 port 2 ssh2
2024-03-05T14:10:00.123456+01:00 gw sshd[99]: Accepted keyboard-interactive/pam for erin from 198.51.100.20 port 6000 ssh2
"""


def test_auth_log() -> None:
    read = read_auth_log(io.StringIO(AUTH_LOG), year=2023, tz="Europe/Prague")
    t = read.table
    assert [e.account for e in t] == ["alice", "bob", "dave", "dave", "erin"]
    assert t.line.tolist() == [1, 4, 9, 11, 12]
    assert [e.event for e in t] == [
        "accepted publickey",
        "accepted password",
        "accepted publickey",
        "accepted publickey",
        "accepted keyboard-interactive/pam",
    ]
    assert read.problem_lines.tolist() == [6, 7, 8]
    assert read.ignored == {"blank line": 1, "not an sshd login": 3}
    assert int(t.time[0]) == _utc(2023, 3, 5, 13, 2, 11)  # CET, UTC+1
    assert int(t.time[2]) == _utc(2023, 12, 31, 22, 59, 59)
    assert int(t.time[3]) == _utc(2023, 12, 31, 23, 0, 30)  # year rolled over into 2024
    assert int(t.time[4]) == _utc(2024, 3, 5, 13, 10, 0)
    assert t.entry(1).address == "2001:db8::7"
    assert set(t.services) == {"ssh"}


def test_auth_log_needs_a_year() -> None:
    with pytest.raises(LogFormatError, match="year"):
        read_auth_log(io.StringIO(AUTH_LOG))
    # an RFC 3339 log needs none
    read = read_auth_log(io.StringIO(AUTH_LOG.splitlines()[-1] + "\n"))
    assert len(read.table) == 1


ACCESS_LOG = """203.0.113.7 - alice [10/Oct/2023:13:55:36 -0700] "GET /mail/inbox?folder=1 HTTP/1.1" 200 2326 "https://example.org/" "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/118.0"
198.51.100.4 - - [10/Oct/2023:13:55:37 -0700] "GET /favicon.ico HTTP/1.1" 404 209 "-" "Mozilla/5.0"
2001:db8::1 - bob [10/Oct/2023:13:56:00 +0200] "POST /login HTTP/2.0" 302 0 "-" "curl/8.4.0"
192.0.2.33 - carol [10/Oct/2023:13:57:00 +0000] "GET / HTTP/1.1" 200 512
this is not a log line
192.0.2.34 - dave [99/Foo/2023:13:57:00 +0000] "GET / HTTP/1.1" 200 512 "-" "-"
192.0.2.35 - erin [10/Oct/2023:13:58:00 +0000] "\\x16\\x03\\x01" 400 157 "-" "-"
"""


def test_access_log() -> None:
    read = read_access_log(io.StringIO(ACCESS_LOG), service="webmail")
    t = read.table
    assert [e.account for e in t] == ["alice", "bob", "carol", "erin"]
    assert t.line.tolist() == [1, 3, 4, 7]
    assert [e.event for e in t][:3] == ["GET /mail/inbox 200", "POST /login 302", "GET / 200"]
    assert int(t.time[0]) == _utc(2023, 10, 10, 20, 55, 36)
    assert int(t.time[1]) == _utc(2023, 10, 10, 11, 56, 0)
    assert t.entry(0).timestamp.utcoffset() == dt.timedelta(hours=-7)
    assert read.problem_lines.tolist() == [5, 6]
    assert read.ignored == {"anonymous request (no authenticated user)": 1}
    assert set(t.services) == {"webmail"}


def _signin(
    upn: str, ip: str, when: str, app: str = "Office 365 Exchange Online", code: int = 0
) -> dict[str, object]:
    return {
        "id": "66ea54eb-6301-4ee5-be62-ff5a759b0100",
        "createdDateTime": when,
        "userDisplayName": upn.split("@")[0].title(),
        "userPrincipalName": upn,
        "userId": "d7cc485d-2c1b-422c-98fd-5ce52859a4a3",
        "appId": "00000002-0000-0ff1-ce00-000000000000",
        "appDisplayName": app,
        "ipAddress": ip,
        "clientAppUsed": "Browser",
        "status": {"errorCode": code, "failureReason": "Other." if code == 0 else "Invalid password."},
        "location": {"city": "Prague", "state": "Praha", "countryOrRegion": "CZ"},
    }


SIGNINS = [
    _signin("alice@contoso.com", "198.51.100.10", "2023-06-01T08:15:02.1234567Z"),
    _signin("alice@contoso.com", "198.51.100.11", "2023-06-01T08:20:00Z", app="Microsoft Teams"),
    _signin("bob@contoso.com", "203.0.113.80", "2023-06-01T09:00:00Z", code=50126),
    _signin("carol@contoso.com", "", "2023-06-01T09:10:00Z"),
    {"userPrincipalName": "dave@contoso.com", "ipAddress": "192.0.2.1"},
    _signin("erin@contoso.com", "2001:db8::5", "2023-06-01T10:00:00+02:00"),
]


def test_entra_json_array(tmp_path: Path) -> None:
    path = tmp_path / "InteractiveSignIns_2023-06-01.json"
    path.write_text(json.dumps(SIGNINS, indent=2), encoding="utf-8")
    read = read_entra_signins(path)
    t = read.table
    assert [e.account for e in t] == ["alice@contoso.com", "alice@contoso.com", "erin@contoso.com"]
    assert [e.service for e in t] == [
        "Office 365 Exchange Online",
        "Microsoft Teams",
        "Office 365 Exchange Online",
    ]
    assert t.line.tolist() == [1, 2, 6]  # record numbers
    assert int(t.time[0]) == _utc(2023, 6, 1, 8, 15, 2)
    assert int(t.time[2]) == _utc(2023, 6, 1, 8, 0, 0)
    assert read.problem_lines.tolist() == [4, 5]
    assert read.ignored == {"failed sign-in": 1}
    assert t.entry(0).event == "sign-in success"
    with_failures = read_entra_signins(path, successful_only=False)
    assert with_failures.table.entry(2).event == "sign-in failure 50126"


def test_entra_graph_response_and_jsonl() -> None:
    graph = json.dumps(
        {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns", "value": SIGNINS}
    )
    a = read_entra_signins(io.StringIO(graph))
    lines = "\n".join(json.dumps(s) for s in SIGNINS) + "\n{not json\n"
    b = read_entra_signins(io.StringIO(lines))
    assert len(a.table) == len(b.table) == 3
    assert a.table.time.tolist() == b.table.time.tolist()
    assert b.problem_lines.tolist() == [4, 5, 7]
    with pytest.raises(LogFormatError):
        read_entra_signins(io.StringIO("[{broken"))


def test_generic_csv_and_jsonl() -> None:
    csv_text = (
        "when;user;ip;app\n"
        "1700000000;u1;192.0.2.1;vpn\n"
        "1700000060;u2;192.0.2.2\n"
        "oops;u3;192.0.2.3;vpn\n"
        "1700000120;;192.0.2.4;vpn\n"
    )
    read = read_csv(
        io.StringIO(csv_text),
        ColumnMapping(time="when", account="user", address="ip", service="app"),
        time_format="epoch",
        delimiter=";",
    )
    assert [e.account for e in read.table] == ["u1"]
    assert read.problem_lines.tolist() == [3, 4, 5]
    assert [p.reason for p in read.problems][2] == "empty account"
    jl = (
        '{"ts": "2023-01-01T10:00:00+01:00", "user": {"name": "u1"}, "client": {"ip": "192.0.2.1"}}\n'
        '{"ts": "2023-01-01T10:01:00", "user": {"name": "u1"}, "client": {"ip": "192.0.2.1"}, "svc": "mail"}\n'
        "\n"
        '{"ts": "2023-01-01T10:02:00", "user": {}, "client": {"ip": "192.0.2.1"}}\n'
        "[1, 2]\n"
        "{oops\n"
    )
    mapping = ColumnMapping(time="ts", account="user.name", address="client.ip", service="svc")
    read = read_jsonl(io.StringIO(jl), mapping, tz="Europe/Prague", service="default")
    assert [e.service for e in read.table] == ["default", "mail"]
    assert int(read.table.time[1]) == _utc(2023, 1, 1, 9, 1)
    assert read.problem_lines.tolist() == [4, 5, 6]
    assert read.ignored == {"blank line": 1}


def test_problem_details_are_capped_but_all_lines_counted() -> None:
    text = "time,account,ip\n" + "x,a,192.0.2.1\n" * 50
    read = read_csv(io.StringIO(text), ColumnMapping("time", "account", "ip"), max_problems=5)
    assert read.problem_count == 50
    assert len(read.problems) == 5
    assert read.problem_lines.tolist() == list(range(2, 52))


def test_time_parser_formats() -> None:
    iso = make_time_parser(None, "UTC")
    assert iso("2023-06-01T08:15:02.1234567Z") == dt.datetime(
        2023, 6, 1, 8, 15, 2, 123456, tzinfo=dt.timezone.utc
    )
    assert make_time_parser("epoch_ms")("1700000000500").timestamp() == 1700000000.5
    with pytest.raises(ValueError, match="unknown time zone"):
        make_time_parser(None, "Mars/Olympus")


def test_log_entry_and_table_round_trip() -> None:
    tz = dt.timezone(dt.timedelta(hours=2))
    entries = [
        LogEntry(dt.datetime(2024, 1, 1, 12, 0, tzinfo=tz), "a", " 192.0.2.1 ", "ssh", "login", 3, "x.log"),
        LogEntry(dt.datetime(2024, 1, 1, 12, 5, tzinfo=tz), "b", "[2001:DB8::1]", "mail", "", 4, "x.log"),
    ]
    assert entries[0].address == "192.0.2.1"
    assert entries[1].address == "2001:db8::1"
    table = LogTable.from_entries(entries)
    assert list(table) == entries
    assert "x.log:3" in str(entries[0])
    both = LogTable.concat([table, table.take(np.array([1]))])
    assert len(both) == 3
    assert both.entry(2) == entries[1]
    with pytest.raises(InvalidAddressError):
        LogEntry(dt.datetime(2024, 1, 1, tzinfo=tz), "a", "999.1.1.1")
    with pytest.raises(ValueError, match="time-zone-aware"):
        LogEntry(dt.datetime(2024, 1, 1), "a", "192.0.2.1")


@given(st.ip_addresses())
def test_parse_log_address_matches_ipaddress(addr: object) -> None:
    import ipaddress

    fam, v4, v6 = parse_log_address(str(addr))
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        assert (fam, v4) == (4, int(addr.ipv4_mapped))
    elif isinstance(addr, ipaddress.IPv4Address):
        assert (fam, v4) == (4, int(addr))
    else:
        assert isinstance(addr, ipaddress.IPv6Address)
        assert (fam, v6) == (6, addr.packed)


_GARBAGE = st.text(st.characters(exclude_characters="\n\r", exclude_categories=["Cs"]), max_size=80)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(_GARBAGE, st.sampled_from(AUTH_LOG.splitlines())), max_size=25))
def test_auth_log_accounts_for_every_line(lines: list[str]) -> None:
    read = read_auth_log(io.StringIO("".join(x + "\n" for x in lines)), year=2023)
    assert read.lines == len(lines)
    assert len(read.table) + read.problem_count + sum(read.ignored.values()) == len(lines)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(_GARBAGE, st.sampled_from(ACCESS_LOG.splitlines())), max_size=25))
def test_access_log_accounts_for_every_line(lines: list[str]) -> None:
    read = read_access_log(io.StringIO("".join(x + "\n" for x in lines)))
    assert read.lines == len(lines)
    assert len(read.table) + read.problem_count + sum(read.ignored.values()) == len(lines)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(_GARBAGE, st.sampled_from([json.dumps(s) for s in SIGNINS])), max_size=25))
def test_jsonl_accounts_for_every_line(lines: list[str]) -> None:
    mapping = ColumnMapping("createdDateTime", "userPrincipalName", "ipAddress", "appDisplayName")
    read = read_jsonl(io.StringIO("".join(x + "\n" for x in lines)), mapping)
    assert read.lines == len(lines)
    assert len(read.table) + read.problem_count + sum(read.ignored.values()) == len(lines)
