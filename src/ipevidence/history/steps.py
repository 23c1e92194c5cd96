"""The steps after linking (METHOD.md sections 4 to 6): remove probes, check borders, remove cloud
addresses; each counted as a funnel step with its removed rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import numpy.typing as npt

from ..groundtruth import FunnelStep, GroundTruth, Removals
from .params import BorderChecker

if TYPE_CHECKING:
    from ..networks import CloudRanges


@attrs.frozen(eq=False)
class StepResult:
    """One step after linking: the rows kept, the rows removed (with reasons), the funnel step."""

    kept: GroundTruth
    removed: Removals
    step: FunnelStep

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step.to_dict(), "removed_by_reason": self.removed.by_reason()}

    def __str__(self) -> str:
        return str(self.step)


def _step(
    name: str, description: str, rows: GroundTruth, keep: npt.NDArray[np.bool_], reason: npt.ArrayLike
) -> StepResult:
    gone = ~keep
    reasons = np.asarray(reason)
    if reasons.ndim == 0:
        reasons = np.full(int(gone.sum()), str(reasons))
    else:
        reasons = reasons[gone] if reasons.shape[0] == keep.shape[0] else reasons
    removed = Removals(
        family=rows.family,
        probe_id=rows.probe_id[gone],
        address=rows.address[gone],
        date=rows.date[gone],
        reason=np.asarray(reasons, dtype=str),
    )
    step = FunnelStep(name=name, description=description, rows_in=len(rows), removed=int(gone.sum()))
    return StepResult(kept=rows.select(keep), removed=removed, step=step)


def remove_probes(
    rows: GroundTruth,
    probes: npt.ArrayLike,
    *,
    name: str = "excluded_probes",
    reason: str | None = None,
    description: str = "",
) -> StepResult:
    """Remove every row of the given probe ids (reason code defaults to the step name)."""
    drop = np.isin(rows.probe_id, np.asarray(probes, dtype=np.int32))
    return _step(name, description or f"rows of {name.replace('_', ' ')}", rows, ~drop, reason or name)


def check_borders(
    rows: GroundTruth,
    borders: BorderChecker,
    *,
    tolerance_km: float = 10.0,
    main_territory: Sequence[str] = ("FR",),
) -> StepResult:
    """Remove rows whose coordinates are not inside their declared country (every country).

    The decision is :meth:`ipevidence.geography.Borders.check`'s; the reason code of a removed
    row is ``"border:<status>"``.
    """
    result = borders.check(
        rows.country,
        rows.latitude,
        rows.longitude,
        tolerance_km=tolerance_km,
        main_territory=tuple(main_territory),
    )
    keep = np.asarray(result.accepted, dtype=bool)
    status = np.asarray(result.status)
    if status.dtype.kind in "ui":
        from ..geography import BorderStatus

        names = np.array(["unknown"] * (max(int(s) for s in BorderStatus) + 1), dtype=object)
        for s in BorderStatus:
            names[int(s)] = s.name.lower()
        status = names.astype(str)[status.astype(np.intp)] if status.size else np.zeros(0, "U1")
    elif status.dtype.kind == "S":
        status = status.astype(str)
    reasons = np.char.add("border:", status.astype(str)) if status.size else np.zeros(0, "U1")
    territory = ",".join(main_territory) or "-"
    desc = (
        f"coordinates outside the declared country (tolerance {tolerance_km:g} km, "
        f"main territory {territory})"
    )
    if status.size:
        names_, counts_ = np.unique(status.astype(str), return_counts=True)
        tally = ", ".join(f"{k} {int(v):,}" for k, v in zip(names_.tolist(), counts_.tolist(), strict=True))
        desc += f"; checked: {tally}"
    return _step("border", desc, rows, keep, reasons)


def remove_cloud(
    rows: GroundTruth,
    asns: Iterable[int],
    *,
    ranges: CloudRanges | None = None,
) -> list[StepResult]:
    """Remove cloud/hosting rows: by the row's own ASN (step ``cloud_asn``, reason
    ``cloud_asn:<asn>``), then optionally by providers' range files (step ``cloud_ranges``)."""
    from ..networks import cloud_asn_mask

    asn_set = frozenset(int(a) for a in asns)
    hit = np.asarray(cloud_asn_mask(rows.asn, asn_set), dtype=bool)
    reasons = np.char.add("cloud_asn:", rows.asn.astype(str))
    first = _step("cloud_asn", f"address in a cloud/hosting ASN ({len(asn_set)} ASNs)", rows, ~hit, reasons)
    out = [first]
    if ranges is not None:
        kept = first.kept
        in_range, labels = _cloud_range_hits(ranges, kept.address)
        out.append(
            _step(
                "cloud_ranges", "address inside a provider's published cloud range", kept, ~in_range, labels
            )
        )
    return out


def _cloud_range_hits(
    ranges: CloudRanges, addresses: npt.NDArray[Any]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.str_]]:
    """Vectorised membership in provider ranges, with a ``cloud_range:<provider>`` label per row."""
    providers = np.asarray(ranges.lookup(addresses)).astype(str)
    return np.asarray(providers != "", dtype=np.bool_), np.char.add("cloud_range:", providers)
