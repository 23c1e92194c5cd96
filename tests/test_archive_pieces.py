"""Records decoded piece by piece as bzip2 blocks arrive: never a result that differs from decoding
the whole text, whatever the text (the pieces path either agrees or hands over to the whole-text
path)."""

from __future__ import annotations

import bz2
import datetime as dt
import json
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import assert_same_columns
from ipevidence.archive import decode as decode_mod
from ipevidence.archive import parse as parse_mod
from ipevidence.archive import parse_day
from ipevidence.archive.snapshot import DaySnapshot
from ipevidence.errors import ArchiveCorruptError
from ipevidence.synthetic.archive import SyntheticArchiveConfig, day_payload

DAY = dt.date(2023, 6, 1)


def _same(a: DaySnapshot, b: DaySnapshot) -> None:
    assert dict(a.counts) == dict(b.counts)
    assert a.source == b.source
    assert a.day == b.day
    assert_same_columns(a, b)


def _whole(text: bytes) -> DaySnapshot | str:
    """The whole-text decode (pieces switched off), or its error message."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(decode_mod, "_decode_in_pieces", lambda *args: None)
        try:
            return parse_mod._decode(text, DAY, None, ValueError)
        except ValueError as exc:
            return f"error: {exc}"


def _pieces(text: bytes, piece_bytes: int) -> tuple[DaySnapshot | None, int]:
    """The pieces path on ``text``; (its snapshot or None, number of pieces)."""
    calls: list[int] = []
    real = parse_mod._column_arrays

    def spy(recs: Any, counts: Any) -> Any:
        calls.append(len(recs))
        return real(recs, counts)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(decode_mod, "_column_arrays", spy)
        snap = parse_mod._decode_in_pieces(text, DAY, None, piece_bytes)
    return snap, len(calls)


# ---------------------------------------------------------------------------------------------
# the property: a snapshot from the pieces path is the whole-text snapshot, on any text

_tricky_text = st.sampled_from(
    [
        '}, {"address_v4": "1.2.3.4"}',
        '}, {"id": 5, ',
        "]}",
        '"}, {"id": 1}]',
        "\\",
        '\\"}, {"id": 7',
        "Connected",
        "",
        "ü}, {",
    ]
) | st.text(alphabet='{}[],:"\\ ab', max_size=12)
_leaf = st.none() | st.booleans() | st.integers(-5, 2**40) | st.floats(allow_nan=False) | _tricky_text
_value = st.recursive(
    _leaf,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.sampled_from(["name", "slug", "id"]), kids),
    max_leaves=5,
)
_fields = {
    "address_v4": st.sampled_from(["1.2.3.4", "10.0.0.1", "bad"]) | _value,
    "id": st.integers(0, 2**31) | _value,
    "status_name": st.sampled_from(["Connected", "Abandoned"]) | _value,
    "status": st.fixed_dictionaries({"name": st.sampled_from(["Connected"]) | _value}) | _value,
    "country_code": st.sampled_from(["DE", "fr", "X"]) | _value,
    "latitude": st.floats(-90, 90) | _value,
    "geometry": st.fixed_dictionaries({"coordinates": st.lists(st.floats(-90, 90), max_size=3)}) | _value,
    "address_v6": st.sampled_from(["2a00::1", "::1"]) | _value,
    "asn_v4": st.integers(0, 2**33) | _value,
    "tags": st.lists(st.fixed_dictionaries({"name": _tricky_text, "slug": _tricky_text}), max_size=3)
    | _value,
    "description": _tricky_text,
}
_others = {k: v for k, v in _fields.items() if k != "address_v4"}
_record = st.sampled_from(["first_key"] * 8 + ["any_keys", "any_value"]).flatmap(
    lambda kind: (
        st.fixed_dictionaries({"address_v4": _fields["address_v4"]}, optional=_others)
        if kind == "first_key"
        else st.fixed_dictionaries({}, optional=_fields)
        if kind == "any_keys"
        else _value
    )
)


@st.composite
def _documents(draw: st.DrawFn) -> bytes:
    recs = draw(st.lists(_record, max_size=16))
    form = draw(st.sampled_from(["object"] * 4 + ["list"] * 3 + ["meta_after", "meta_before", "dup_objects"]))
    top: Any
    if form == "object":
        top = {"objects": recs}
    elif form == "list":
        top = recs
    elif form == "meta_after":
        top = {"objects": recs, "meta": {"total_count": len(recs)}}
    elif form == "meta_before":
        top = {"meta": {"next": None}, "objects": recs}
    else:
        half = len(recs) // 2
        text = json.dumps(recs[:half]), json.dumps(recs[half:])
        return f'{{"objects": {text[0]}, "objects": {text[1]}}}'.encode()
    style = draw(st.sampled_from(["compact", "spaced", "indent"]))
    if style == "compact":
        return json.dumps(top, separators=(",", ":")).encode()
    if style == "spaced":
        return json.dumps(top).encode()
    return json.dumps(top, indent=draw(st.integers(0, 3))).encode()


@st.composite
def _damaged(draw: st.DrawFn) -> bytes:
    text = bytearray(draw(_documents()))
    for _ in range(draw(st.integers(0, 2))):
        if not text:
            break
        pos = draw(st.integers(0, len(text) - 1))
        how = draw(st.sampled_from(["flip", "delete", "insert"]))
        if how == "flip":
            text[pos] = draw(st.sampled_from(b'{}[],:" \f\v1a\\'))
        elif how == "delete":
            del text[pos]
        else:
            text.insert(pos, draw(st.sampled_from(b'{}[],:" \f\v1a\\')))
    return bytes(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.sampled_from([0, 0, 1]).flatmap(lambda d: _damaged() if d else _documents()), data=st.data())
def test_pieces_never_disagree_with_the_whole_text(text: bytes, data: st.DataObject) -> None:
    piece_bytes = max(1, len(text) // data.draw(st.integers(2, 40)))
    got, n = _pieces(text, piece_bytes)
    want = _whole(text)
    event("pieces path" if got is not None else "whole-text path")
    event(f"pieces: {min(n, 4)}")
    if got is not None:
        assert not isinstance(want, str), f"pieces path accepted a text the whole-text path rejects: {want}"
        _same(got, want)


def test_pieces_really_cut_a_generated_day() -> None:
    cfg = SyntheticArchiveConfig(seed=5, start=DAY, end=DAY, n_probes=2000, record_shape="mixed")
    text = bz2.decompress(day_payload(cfg)[0])
    got, n = _pieces(text, 50_000)
    assert got is not None
    assert n >= len(text) // 50_000 - 1
    want = _whole(text)
    assert not isinstance(want, str)
    _same(got, want)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b'{"objects": [{"id": 1}, {"id": 2}], "meta": {}}', "a key after objects"),
        (b'{"meta": {}, "objects": [{"id": 1}]}', "a key before objects"),
        (b'{"objects": [{"id": 1}], "objects": [{"id": 2}]}', "objects twice: the last one counts"),
        (b'\f{"objects": [{"id": 1}, {"id": 2}]}', "not JSON whitespace"),
        (b'{"objects": [{"id": 1}, 7, {"id": 2}]}', "an element that is not an object"),
        (b'{"objects": [{"id": 1}, {"id": 2},]}', "a trailing comma"),
        (b'{"objects": [{"id": 1}, {"id": 2}]}}', "a closing brace too many"),
        (b'{"objects": [{"id": 1}, {"id": 2}]} x', "bytes after the document"),
    ],
)
def test_unusual_documents_go_to_the_whole_text_path(text: bytes, reason: str) -> None:
    for piece_bytes in range(1, len(text) // 2 + 1):
        got, _ = _pieces(text, piece_bytes)
        want = _whole(text)
        if got is not None:
            assert not isinstance(want, str), reason
            _same(got, want)


# ---------------------------------------------------------------------------------------------
# end to end: parse_day on days of several pieces, against the whole-text decode


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    cfg = SyntheticArchiveConfig(seed=9, start=DAY, end=DAY, n_probes=3000, record_shape="mixed")
    recs: list[dict[str, Any]] = msgspec.json.decode(bz2.decompress(day_payload(cfg)[0]))["objects"]
    return [dict(r, description="x" * 300) for r in recs]  # 1.9 MB


@pytest.fixture(autouse=True)
def _small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decode_mod, "PIECE_BYTES", 300_000)  # six pieces a day here


def _parse(text: bytes, threads: int) -> DaySnapshot | str:
    try:
        return parse_day(bz2.compress(text, 1), DAY, threads=threads)
    except ArchiveCorruptError as exc:
        return exc.reason


def _both(text: bytes) -> None:
    assert len(text) > 3 * decode_mod.PIECE_BYTES
    got = _parse(text, 2)
    assert isinstance(got, str) or got.counts["records"] > 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(decode_mod, "_decode_in_pieces", lambda *args: None)
        want = _parse(text, 1)
    if isinstance(want, str) or isinstance(got, str):
        assert got == want
    else:
        _same(got, want)


@pytest.mark.parametrize("indent", [None, 2])
def test_parse_day_pieces_match_whole(records: list[dict[str, Any]], indent: int | None) -> None:
    recs = [dict(r) for r in records]
    recs[1200]["description"] = '}, {"address_v4": "9.9.9.9", "id": 1}, {"id": 2'
    _both(json.dumps({"objects": recs}, indent=indent).encode())
    _both(json.dumps(recs, indent=indent).encode())


def test_parse_day_unusual_files_match_whole(records: list[dict[str, Any]]) -> None:
    _both(json.dumps({"objects": records, "meta": {"n": len(records)}}).encode())
    _both(('{"objects": [{"id": 1}], "objects": ' + json.dumps(records) + "}").encode())
    _both(('{"objects": ' + json.dumps(records) + ', "objects": [{"id": 1}]}').encode())
    mixed: list[Any] = list(records)
    mixed[2500] = 7
    _both(json.dumps({"objects": mixed}).encode())
    good = json.dumps({"objects": records}).encode()
    mid = good.index(b'"address_v4"', len(good) // 2)
    _both(good[:mid] + b"@" + good[mid + 1 :])  # invalid JSON in a later piece
    _both(good[: len(good) // 2])  # JSON cut short (a complete bzip2 file of half a day)
    deep = good[:mid] + b'"tags": ' + b"[" * 100_000 + b"]" * 100_000 + b", " + good[mid:]
    _both(deep)  # nesting msgspec does not follow
    assert _parse(deep, 2) == parse_mod._TOO_DEEP


class _CountingDecoder:
    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls = 0

    def decode(self, text: bytes) -> Any:
        self.calls += 1
        return self.real.decode(text)


def test_parse_day_takes_the_pieces_path(
    records: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _CountingDecoder(decode_mod._DECODER)
    pieces = _CountingDecoder(decode_mod._LIST_DECODER)
    monkeypatch.setattr(decode_mod, "_DECODER", whole)
    monkeypatch.setattr(decode_mod, "_LIST_DECODER", pieces)
    text = json.dumps({"objects": records}).encode()
    snap = parse_day(bz2.compress(text, 1), DAY)
    assert whole.calls == 0  # every record came through the pieces
    assert len(text) // decode_mod.PIECE_BYTES <= pieces.calls <= len(text) // decode_mod.PIECE_BYTES + 1
    assert len(snap) == len(records)
