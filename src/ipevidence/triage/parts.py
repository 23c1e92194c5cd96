"""Triage's verdicts in bulk: every part of a verdict computed once per distinct input.

:func:`judge_parts` (the method :meth:`Triage._judge <ipevidence.triage.Triage._judge>`) judges
one family's and one database's assessable cases: the country's criteria once per (country,
window), the network's once per (ASN known, provider) (the columns of
:func:`~ipevidence.triage.networks.networks_in_bulk`), the claim's once per (located, claimed), the
database's once per the assessor's key, the likelihood ratio once per (Hp, located, window), then
:func:`~ipevidence.verdict.outcome_of` once per distinct combination of the parts' results
(:class:`_Part`, :func:`_unique`), broadcast to every case like it, into the per-case
:class:`_Columns` that :class:`~ipevidence.triage.Triage` turns into a
:class:`~ipevidence.triage.result.TriageResult`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from ..countries import COUNTRY_DTYPE
from ..verdict import Criterion, outcome_of
from .reasons import _CODE, _OUTCOME, reason_code
from .result import _u16

if TYPE_CHECKING:
    from ..assessment import EvidentialAssessor
    from .engine import Triage

__all__ = ["judge_parts"]


def _signature(criteria: Iterable[Criterion]) -> tuple[tuple[str, str, bool, bool | None], ...]:
    """What the outcome rule and the reason code read of criteria: name, group, required, passed
    (never the figures, which :func:`outcome_of` compares only through ``passed``)."""
    return tuple((c.name, c.group, c.required, c.passed) for c in criteria)


class _Part:
    """One part of a verdict computed once per distinct key: its criteria and their signature id."""

    def __init__(self) -> None:
        self.criteria: list[tuple[Criterion, ...]] = []
        self.sig_ids: list[int] = []
        self._sigs: dict[tuple[Any, ...], int] = {}

    def add(self, criteria: Sequence[Criterion]) -> None:
        crit = tuple(criteria)
        self.criteria.append(crit)
        self.sig_ids.append(self._sigs.setdefault(_signature(crit), len(self._sigs)))

    def sig_column(self, ids: npt.NDArray[np.intp]) -> npt.NDArray[np.int64]:
        table = np.asarray([*self.sig_ids, len(self._sigs)], dtype=np.int64)  # -1 -> "absent"
        return table[ids]


def _unique(keys: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(distinct keys in order, the index of one row holding each, the inverse). Keys in a small
    range are counted with a bitmap in linear time; others are sorted."""
    if keys.size == 0:
        return keys, np.zeros(0, np.intp), np.zeros(0, np.intp)
    lo, hi = int(keys.min()), int(keys.max())
    if hi - lo < _BITMAP_SPAN:
        offset = keys - lo
        seen = np.zeros(hi - lo + 1, np.bool_)
        seen[offset] = True
        present = np.flatnonzero(seen)
        rank = np.cumsum(seen, dtype=np.intp) - 1
        holder = np.empty(hi - lo + 1, np.intp)
        holder[offset] = np.arange(keys.size, dtype=np.intp)  # some row of each key: all alike
        return present + lo, holder[present], rank[offset]
    uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return uniq, first, inverse.reshape(-1)


_BITMAP_SPAN: Final = 1 << 25


def judge_parts(
    engine: Triage,
    a: EvidentialAssessor,
    rows: npt.NDArray[np.intp],
    col: npt.NDArray[Any],
    days: npt.NDArray[np.datetime64],
    year: npt.NDArray[np.int64],
    first: npt.NDArray[np.int16],
    last: npt.NDArray[np.int16],
    located: npt.NDArray[np.bytes_],
    claimed: npt.NDArray[np.bytes_],
    given: npt.NDArray[np.int64],
    out: _Columns,
) -> None:
    """Judge the assessable cases ``rows`` of one family and database with ``a`` (what
    :meth:`Triage._judge <ipevidence.triage.Triage._judge>` runs), filling ``out``."""
    p = engine.policy
    m = rows.size
    loc16 = _u16(located)
    has_loc = loc16 > 0
    country = np.where(has_loc, located, claimed)
    c16 = _u16(country)
    cl16 = _u16(claimed)
    # dense small numbers for the countries and years in keys (so that keys fit a bitmap)
    dense = np.zeros(1 << 16, np.int64)
    present = np.flatnonzero(np.bincount(np.concatenate([loc16, cl16]), minlength=1 << 16))
    dense[present] = np.arange(present.size)
    dloc, dcl, dc = dense[loc16], dense[cl16], dense[c16]
    ny = int(year.max() - year.min() + 1) if m else 1
    yr = year - (int(year.min()) if m else 0)
    nc = max(1, int(present.size))
    asn, provider = engine._networks(a, col, days, given)
    out.asn[rows] = asn.astype(np.uint32)
    out.hosting[rows] = provider.astype(np.int16)
    out.network_checked[rows] = (asn > 0) | (provider > 0)

    def text(code: int) -> str | None:
        return None if code == 0 else int(code).to_bytes(2, "big").decode("ascii")

    def first_last(y: int) -> tuple[int, int]:
        return a.located.window(int(y), p.window_years)

    # 1. the country's criteria, per (country, window)
    ev_part = _Part()
    evaluations: list[Any] = []
    ev_ids = np.full(m, -1, np.intp)
    sel = np.flatnonzero(c16 > 0)
    acc_all = np.full(0, np.nan)
    acc_min = np.full(0, np.nan)
    if sel.size:
        keys, firsts, inv = _unique(dc[sel] * ny + yr[sel])
        acc_all = np.full(len(keys), np.nan)
        acc_min = np.full(len(keys), np.nan)
        for k, r in enumerate(sel[firsts].tolist()):
            f, la = first_last(year[r])
            ev = a.evaluate_country(str(text(int(c16[r]))), f, la)
            ev_part.add(ev.criteria)
            evaluations.append(ev)
            for c in ev.criteria:
                if c.name == "hist_all" and c.figure is not None:
                    acc_all[k] = float(c.figure)
                elif c.name == "hist_min" and c.figure is not None:
                    acc_min[k] = float(c.figure)
        ev_ids[sel] = inv
        out.accuracy[rows[sel]] = acc_all[inv]
        out.accuracy_min[rows[sel]] = acc_min[inv]
    # 2. located, per located country
    loc_part = _Part()
    _lkeys, lfirst, loc_ids = _unique(dloc)
    for r in lfirst.tolist():
        loc_part.add([a._located_criterion(text(int(loc16[r])))])
    # 3. the network: cloud/hosting per (ASN known, provider); the own network's accuracy per
    #    (located, ASN, window), needed only where it can decide (network_required)
    net_part = _Part()
    _nkeys, nfirst, net_ids = _unique(((asn > 0).astype(np.int64) << 16) | provider)
    for r in nfirst.tolist():
        label = engine.hosting_labels[int(provider[r])] if provider[r] else None
        net_part.add([a._cloud_criterion(int(asn[r]) or None, label)])
    acc_part = _Part()
    acc_ids = np.full(m, -1, np.intp)
    if p.network_required:
        sel = np.flatnonzero(has_loc & (asn > 0) & (provider == 0))
        if sel.size:
            keys, firsts, inv = _unique((loc16[sel] << 48) | (asn[sel] << 16) | year[sel])
            for r in sel[firsts].tolist():
                f, la = first_last(year[r])
                crit, _reasons, _acc = a._network_accuracy_criterion(
                    str(text(int(loc16[r]))), int(asn[r]), f, la
                )
                acc_part.add([crit])
            acc_ids[sel] = inv
    # 4. the claim, per (located, claimed)
    claim_part = _Part()
    claim_ids = np.full(m, -1, np.intp)
    sel = np.flatnonzero(cl16 > 0)
    if sel.size:
        keys, firsts, inv = _unique(dloc[sel] * nc + dcl[sel])
        for r in sel[firsts].tolist():
            claim_part.add([a._claim_criterion(text(int(loc16[r])), str(text(int(cl16[r]))))])
        claim_ids[sel] = inv
    # 5. the database, per distinct input of _database_criterion (the assessor's own key)
    build = np.datetime64(a.backend.build_date, "D")
    delta = (days - build).astype(np.int64)
    db_part = _Part()
    _dkeys, dfirst, db_ids = _unique(a._database_keys(loc16, days))
    for r in dfirst.tolist():
        f, la = first_last(year[r])
        when = days[r].astype(dt.date)
        db_part.add([a._database_criterion(text(int(loc16[r])), when, abs(int(delta[r])), f, la)])
    # 6. the likelihood ratio, per (Hp, located, window)
    hp16 = np.where(cl16 > 0, cl16, loc16)
    if p.report_lr:
        sel = np.flatnonzero(hp16 > 0)
        if sel.size:
            dhp = np.where(cl16[sel] > 0, dcl[sel], dloc[sel])
            keys, firsts, inv = _unique((dhp * nc + dloc[sel]) * ny + yr[sel])
            lr_val = np.full(len(keys), np.nan)
            lr_txt = np.full(len(keys), -1, np.int32)
            lr_vs = np.zeros(len(keys), COUNTRY_DTYPE)
            for k, r in enumerate(sel[firsts].tolist()):
                f, la = first_last(year[r])
                lr, _note = a._lr(str(text(int(hp16[r]))), text(int(loc16[r])), f, la)
                if lr is not None and lr.headline is not None:
                    rep = lr.headline.reported
                    lr_val[k] = np.inf if rep is None else float(rep)
                    lr_txt[k] = engine._lr_text_id(lr.verbal)
                    lr_vs[k] = (lr.weakest_against or "").encode("ascii")
            out.lr[rows[sel]] = lr_val[inv]
            out.lr_verbal[rows[sel]] = lr_txt[inv]
            out.lr_against[rows[sel]] = lr_vs[inv]
    # 7. the outcome: each distinct combination of the parts' signatures, decided by
    #    outcome_of on one case's criteria (in a verdict's order), broadcast to all like it
    sigs = [
        ev_part.sig_column(ev_ids),
        loc_part.sig_column(loc_ids),
        net_part.sig_column(net_ids),
        acc_part.sig_column(acc_ids),
        claim_part.sig_column(claim_ids),
        db_part.sig_column(db_ids),
    ]
    combo = np.zeros(m, np.int64)
    for s in sigs:
        combo = combo * (int(s.max()) + 1 if s.size else 1) + s
    ckeys, cfirst, cinv = _unique(combo)
    reason = np.empty(len(ckeys), np.uint8)
    outcome = np.empty(len(ckeys), np.uint8)
    for k, r in enumerate(cfirst.tolist()):
        network = list(net_part.criteria[net_ids[r]])
        if acc_ids[r] >= 0:
            network += list(acc_part.criteria[acc_ids[r]])
        case = a._case_criteria(
            evaluations[ev_ids[r]] if ev_ids[r] >= 0 else None,
            text(int(loc16[r])),
            network,
            text(int(cl16[r])),
            db_part.criteria[db_ids[r]][0],
        )
        decided = outcome_of(case)
        outcome[k] = _OUTCOME[decided]
        reason[k] = _CODE[reason_code(case, decided)]
    out.reason[rows] = reason[cinv]
    out.outcome[rows] = outcome[cinv]


@attrs.define
class _Columns:
    """The per-case outputs being filled."""

    reason: npt.NDArray[np.uint8]
    outcome: npt.NDArray[np.uint8]
    located: npt.NDArray[np.bytes_]
    database: npt.NDArray[np.int16]
    accuracy: npt.NDArray[np.float64]
    accuracy_min: npt.NDArray[np.float64]
    lr: npt.NDArray[np.float64]
    lr_verbal: npt.NDArray[np.int32]
    lr_against: npt.NDArray[np.bytes_]
    asn: npt.NDArray[np.uint32]
    network_checked: npt.NDArray[np.bool_]
    hosting: npt.NDArray[np.int16]

    @classmethod
    def empty(cls, n: int) -> _Columns:
        return cls(
            reason=np.zeros(n, np.uint8),
            outcome=np.zeros(n, np.uint8),
            located=np.zeros(n, COUNTRY_DTYPE),
            database=np.full(n, -1, np.int16),
            accuracy=np.full(n, np.nan),
            accuracy_min=np.full(n, np.nan),
            lr=np.full(n, np.nan),
            lr_verbal=np.full(n, -1, np.int32),
            lr_against=np.zeros(n, COUNTRY_DTYPE),
            asn=np.zeros(n, np.uint32),
            network_checked=np.zeros(n, np.bool_),
            hosting=np.zeros(n, np.int16),
        )
