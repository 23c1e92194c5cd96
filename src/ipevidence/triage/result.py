"""What triage gives back: per-case results as columns, their exports and their order.

* :class:`TriageResult`: every case's outcome, reason, figures, likelihood ratio, network, window
  and database as numpy columns (:data:`COLUMNS`), with :meth:`~TriageResult.to_pandas`,
  :meth:`~TriageResult.to_arrow` (:func:`arrow_table`), iteration as :class:`TriageRecord`,
  :meth:`~TriageResult.summary` and the triage order (:func:`sort_keys`).

The outcomes and reason codes (:data:`OUTCOMES`, :data:`REASONS`, :func:`reason_code`,
:func:`decisive_criterion`) live in :mod:`ipevidence.triage.reasons` and the per-country summary
(:class:`TriageSummary`) in :mod:`ipevidence.triage.summary`.
:func:`ipevidence.triage.assess_many` makes results; :mod:`ipevidence.triage.files` writes them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final

import attrs
import numpy as np
import numpy.typing as npt

from ..countries import COUNTRY_DTYPE
from ..jsonutil import to_jsonable
from .reasons import OUTCOMES, REASONS
from .summary import TriageSummary, _s2_text

if TYPE_CHECKING:
    from ..provenance import DatabaseInfo

__all__ = ["COLUMNS", "TriageRecord", "TriageResult", "arrow_table", "sort_keys"]

# --------------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------------

_NO_AGE: Final = np.iinfo(np.int32).min

#: the per-case columns, in the order of every output (see docs/triage.md)
COLUMNS: Final[tuple[str, ...]] = (
    "case_id",
    "line",
    "address",
    "family",
    "date",
    "claimed_country",
    "located_country",
    "outcome",
    "reason",
    "accuracy",
    "accuracy_min",
    "likelihood_ratio",
    "lr_verbal",
    "lr_weakest_against",
    "asn",
    "network_checked",
    "hosting",
    "window_first",
    "window_last",
    "database",
    "database_build_date",
    "database_age_days",
)


@attrs.frozen
class TriageRecord:
    """One case of a :class:`TriageResult` (iteration gives these)."""

    case_id: str | None
    line: int | None
    address: Any
    family: int | None
    date: dt.date | None
    claimed_country: str | None
    located_country: str | None
    outcome: str
    reason: str
    accuracy: float | None
    accuracy_min: float | None
    likelihood_ratio: float | None
    lr_verbal: str | None
    lr_weakest_against: str | None
    asn: int | None
    network_checked: bool
    hosting: str | None
    window_first: int | None
    window_last: int | None
    database: str | None
    database_build_date: dt.date | None
    database_age_days: int | None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = to_jsonable(attrs.asdict(self))
        if not isinstance(self.address, str) and self.address is not None:
            out["address"] = str(self.address)
        return out


def _f(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


@attrs.frozen(eq=False)
class TriageResult:
    """Per-case triage results as columns (numpy), in the order of the input.

    Strings that repeat are categorical: ``lr_verbal``, ``hosting`` and ``database`` hold indices
    into :attr:`lr_texts`, :attr:`hosting_labels` and :attr:`databases`; countries are ``S2``
    (``b""`` none); ``outcome`` indexes :data:`OUTCOMES`, ``reason`` :data:`REASONS`; floats are
    NaN where there is no figure; ``asn`` 0, ``window_first``/``window_last`` 0 and
    ``database``/``lr_verbal`` -1 mean none; ``database_age_days`` is the evidence date minus the
    build date (negative: the build is newer than the evidence), ``-2**31`` for none.
    """

    address: npt.NDArray[np.object_]
    family: npt.NDArray[np.int8]
    date: npt.NDArray[np.datetime64]
    claimed: npt.NDArray[np.bytes_]
    located: npt.NDArray[np.bytes_]
    outcome: npt.NDArray[np.uint8]
    reason: npt.NDArray[np.uint8]
    accuracy: npt.NDArray[np.float64]
    accuracy_min: npt.NDArray[np.float64]
    lr: npt.NDArray[np.float64]
    lr_verbal: npt.NDArray[np.int32]
    lr_against: npt.NDArray[np.bytes_]
    asn: npt.NDArray[np.uint32]
    network_checked: npt.NDArray[np.bool_]
    hosting: npt.NDArray[np.int16]
    window_first: npt.NDArray[np.int16]
    window_last: npt.NDArray[np.int16]
    database: npt.NDArray[np.int16]
    database_age_days: npt.NDArray[np.int32]
    lr_texts: tuple[str, ...]
    hosting_labels: tuple[str, ...]
    databases: tuple[DatabaseInfo, ...]
    provenance: Mapping[str, Any] = attrs.field(factory=dict)
    case_id: npt.NDArray[np.object_] | None = None
    line: npt.NDArray[np.int64] | None = None

    _ARRAYS: ClassVar[tuple[str, ...]] = (
        "address",
        "family",
        "date",
        "claimed",
        "located",
        "outcome",
        "reason",
        "accuracy",
        "accuracy_min",
        "lr",
        "lr_verbal",
        "lr_against",
        "asn",
        "network_checked",
        "hosting",
        "window_first",
        "window_last",
        "database",
        "database_age_days",
    )

    def __len__(self) -> int:
        return int(self.outcome.shape[0])

    # -- selection --------------------------------------------------------------------------

    def take(self, index: npt.ArrayLike) -> TriageResult:
        """The cases at ``index`` (an integer array or a boolean mask), in that order."""
        idx = np.asarray(index)
        changes: dict[str, Any] = {name: getattr(self, name)[idx] for name in self._ARRAYS}
        changes["case_id"] = None if self.case_id is None else self.case_id[idx]
        changes["line"] = None if self.line is None else self.line[idx]
        return attrs.evolve(self, **changes)

    def order(self) -> npt.NDArray[np.intp]:
        """The triage order: by located country (code order; not located last), then by strength
        of evidence: outcome (valid, insufficient data, not valid, cannot be assessed), the
        reported likelihood ratio (highest first), the accuracy (highest first), then the input
        line (or position). The order of :func:`sort_keys`."""
        return np.argsort(sort_keys(self), kind="stable")

    def sorted(self) -> TriageResult:
        """The cases in :meth:`order`."""
        return self.take(self.order())

    # -- conversions ------------------------------------------------------------------------

    def outcome_texts(self) -> npt.NDArray[np.str_]:
        return np.asarray(OUTCOMES, dtype=np.str_)[self.outcome]

    def reason_codes(self) -> npt.NDArray[np.str_]:
        return np.asarray([r.code for r in REASONS], dtype=np.str_)[self.reason]

    def _database_names(self) -> list[str | None]:
        names = [d.name for d in self.databases]
        return [names[i] if i >= 0 else None for i in self.database.tolist()]

    def _database_builds(self) -> list[dt.date | None]:
        built = [d.build_date for d in self.databases]
        return [built[i] if i >= 0 else None for i in self.database.tolist()]

    def column(self, name: str) -> list[Any]:
        """One output column (:data:`COLUMNS`) as Python values (None where empty)."""
        if name == "case_id":
            return (
                [None] * len(self)
                if self.case_id is None
                else [None if v is None else str(v) for v in self.case_id]
            )
        if name == "line":
            return [None] * len(self) if self.line is None else self.line.tolist()
        if name == "address":
            return list(self.address)
        if name == "family":
            return [int(f) or None for f in self.family.tolist()]
        if name == "date":
            return [None if np.isnat(d) else d.astype(dt.date) for d in self.date]
        if name == "claimed_country":
            return [_s2_text(c) or None for c in self.claimed.tolist()]
        if name == "located_country":
            return [_s2_text(c) or None for c in self.located.tolist()]
        if name == "outcome":
            return [str(x) for x in self.outcome_texts().tolist()]
        if name == "reason":
            return [str(x) for x in self.reason_codes().tolist()]
        if name in ("accuracy", "accuracy_min"):
            return [_f(x) for x in getattr(self, name).tolist()]
        if name == "likelihood_ratio":
            return [_f(x) for x in self.lr.tolist()]
        if name == "lr_verbal":
            return [self.lr_texts[i] if i >= 0 else None for i in self.lr_verbal.tolist()]
        if name == "lr_weakest_against":
            return [_s2_text(c) or None for c in self.lr_against.tolist()]
        if name == "asn":
            return [int(a) or None for a in self.asn.tolist()]
        if name == "network_checked":
            return [bool(x) for x in self.network_checked.tolist()]
        if name == "hosting":
            return [self.hosting_labels[i] if i > 0 else None for i in self.hosting.tolist()]
        if name in ("window_first", "window_last"):
            return [int(y) or None for y in getattr(self, name).tolist()]
        if name == "database":
            return self._database_names()
        if name == "database_build_date":
            return self._database_builds()
        if name == "database_age_days":
            return [None if a == _NO_AGE else int(a) for a in self.database_age_days.tolist()]
        raise KeyError(name)

    def records(self) -> Iterator[TriageRecord]:
        """Every case as a :class:`TriageRecord`, in the result's order."""
        cols = [self.column(name) for name in COLUMNS]
        for values in zip(*cols, strict=True):
            yield TriageRecord(*values)

    def __iter__(self) -> Iterator[TriageRecord]:
        return self.records()

    def to_pandas(self) -> Any:
        """A pandas DataFrame with the columns of :data:`COLUMNS` (categorical where strings
        repeat). pandas is the optional extra ``[pandas]``."""
        pd = _import_optional("pandas", "pandas", "TriageResult.to_pandas()")
        data: dict[str, Any] = {}
        for name in COLUMNS:
            if name == "outcome":
                data[name] = pd.Categorical.from_codes(
                    self.outcome.astype(np.int64), categories=list(OUTCOMES)
                )
            elif name == "reason":
                data[name] = pd.Categorical.from_codes(
                    self.reason.astype(np.int64), categories=[r.code for r in REASONS]
                )
            elif name in ("accuracy", "accuracy_min"):
                data[name] = getattr(self, name)
            elif name == "likelihood_ratio":
                data[name] = self.lr
            elif name == "date":
                data[name] = self.date.astype("datetime64[s]")
            elif name in ("family", "asn", "window_first", "window_last", "line", "database_age_days"):
                values = self.column(name)
                data[name] = pd.array(values, dtype="Int64")
            elif name in ("claimed_country", "located_country", "lr_weakest_against", "hosting", "database"):
                data[name] = pd.Categorical(self.column(name))
            else:
                data[name] = self.column(name)
        return pd.DataFrame(data, columns=list(COLUMNS))

    def to_arrow(self) -> Any:
        """A pyarrow Table with the columns of :data:`COLUMNS` (dictionary-encoded where strings
        repeat). pyarrow is the optional extra ``[arrow]``."""
        pa = _import_optional("pyarrow", "arrow", "TriageResult.to_arrow()")
        return arrow_table(self, pa)

    def summary(self) -> TriageSummary:
        """Cases per located country: valid, not valid by reason, insufficient data, cannot be
        assessed (see :class:`TriageSummary`)."""
        return TriageSummary.of(self)

    def __repr__(self) -> str:
        counts = np.bincount(self.outcome, minlength=len(OUTCOMES))
        parts = ", ".join(f"{int(c):,} {o}" for o, c in zip(OUTCOMES, counts, strict=True))
        return f"<TriageResult {len(self):,} cases: {parts}>"

    @classmethod
    def concat(cls, results: Sequence[TriageResult]) -> TriageResult:
        """Cases of several results of ONE :class:`Triage` (sharing its string tables) in order."""
        if not results:
            raise ValueError("nothing to concatenate")
        last = results[-1]
        changes: dict[str, Any] = {
            name: np.concatenate([getattr(r, name) for r in results]) for name in cls._ARRAYS
        }
        ids = [r.case_id for r in results if r.case_id is not None]
        lines = [r.line for r in results if r.line is not None]
        changes["case_id"] = np.concatenate(ids) if len(ids) == len(results) else None
        changes["line"] = np.concatenate(lines) if len(lines) == len(results) else None
        return attrs.evolve(last, **changes)


def _import_optional(module: str, extra: str, what: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"{what} needs {module}, which is not installed: pip install 'ipevidence[{extra}]'", name=module
        ) from exc


def arrow_table(result: TriageResult, pa: Any) -> Any:
    """The pyarrow Table of a result (``pa`` the imported pyarrow module)."""
    arrays: dict[str, Any] = {}
    for name in COLUMNS:
        values = result.column(name)
        if name in (
            "outcome",
            "reason",
            "claimed_country",
            "located_country",
            "lr_weakest_against",
            "hosting",
            "database",
            "lr_verbal",
        ):
            arrays[name] = pa.array(values, type=pa.string()).dictionary_encode()
        elif name in ("accuracy", "accuracy_min", "likelihood_ratio"):
            arrays[name] = pa.array(values, type=pa.float64())
        elif name in ("date", "database_build_date"):
            arrays[name] = pa.array(values, type=pa.date32())
        elif name in ("line", "asn", "family", "window_first", "window_last", "database_age_days"):
            arrays[name] = pa.array(values, type=pa.int64())
        elif name == "network_checked":
            arrays[name] = pa.array(values, type=pa.bool_())
        else:
            arrays[name] = pa.array([None if v is None else str(v) for v in values], type=pa.string())
    return pa.table(arrays)


def _u16(codes: npt.NDArray[np.bytes_]) -> npt.NDArray[np.int64]:
    """An ``S2`` column as integers (b"" -> 0), order-preserving."""
    return np.ascontiguousarray(codes, dtype=COUNTRY_DTYPE).view(">u2").astype(np.int64)


#: the strength rank of each outcome code (valid, not valid, insufficient data, cannot be assessed)
_STRENGTH: Final = np.asarray([0, 2, 1, 3], dtype=np.uint8)


def _sortable(x: npt.NDArray[np.float64]) -> npt.NDArray[np.uint64]:
    """Floats as unsigned integers in the same order (-inf lowest)."""
    bits = np.ascontiguousarray(x, dtype=np.float64).view(np.uint64)
    neg = (bits >> np.uint64(63)).astype(bool)
    return np.asarray(np.where(neg, ~bits, bits | np.uint64(1 << 63)), dtype=np.uint64)


def sort_keys(result: TriageResult) -> npt.NDArray[np.bytes_]:
    """One 27-byte string per case whose byte order is the triage order
    (:meth:`TriageResult.order`): located country (not located last), strength of the outcome,
    likelihood ratio and accuracy (highest first, none last), then the line (or input position).
    Keys of different chunks of one file compare too (the command merges sorted chunks with them)."""
    n = len(result)
    loc = _u16(result.located)
    country = np.where(loc == 0, 0xFFFF, loc).astype(">u2")
    lr = np.where(np.isnan(result.lr), -np.inf, result.lr)
    acc = np.where(np.isnan(result.accuracy), -np.inf, result.accuracy)
    seq = np.arange(n, dtype=np.int64) if result.line is None else result.line
    key = np.empty((n, 27), dtype=np.uint8)
    key[:, 0:2] = country.view(np.uint8).reshape(n, 2)
    key[:, 2] = _STRENGTH[result.outcome]
    key[:, 3:11] = (~_sortable(lr)).astype(">u8").view(np.uint8).reshape(n, 8)
    key[:, 11:19] = (~_sortable(acc)).astype(">u8").view(np.uint8).reshape(n, 8)
    key[:, 19:27] = seq.astype(">u8").view(np.uint8).reshape(n, 8)
    out: npt.NDArray[np.bytes_] = np.ascontiguousarray(key).view("S27").reshape(n)
    return out
