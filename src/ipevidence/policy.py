"""The verdict's parameters: :class:`Policy` and its presets (METHOD.md section 13).

A policy holds every number a verdict depends on (window, threshold, interval method and level,
minimum counts, valid-geography thresholds, the cloud/hosting ASN set, the likelihood ratio's
alternatives). It is frozen and validated at construction, so a policy that exists is valid, and it
is written whole into every verdict's provenance.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs

from .countries import normalize_country
from .errors import InvalidParameterError
from .networks import DEFAULT_CLOUD_ASNS as _NETWORK_CLOUD_ASNS
from .networks import EXTENDED_HOSTING_ASNS as _NETWORK_HOSTING_ASNS
from .stats import DEFAULT_MIN_ICC, INTERVAL_METHODS

__all__ = ["DEFAULT_CLOUD_ASNS", "DEFAULT_HOSTING_ASNS", "LR_HD_MODES", "PRESETS", "Policy"]

#: The method's cloud set (METHOD.md section 6), from :data:`ipevidence.networks.DEFAULT_CLOUD_ASNS`:
#: the reference preset's set, as in the paper.
DEFAULT_CLOUD_ASNS: Final = frozenset(int(a) for a in _NETWORK_CLOUD_ASNS)

#: The default preset's set: the documented cloud, hosting, CDN and VPN networks of
#: :data:`ipevidence.networks.EXTENDED_HOSTING_ASNS` (docs/networks.md names the source of each).
DEFAULT_HOSTING_ASNS: Final = frozenset(int(a) for a in _NETWORK_HOSTING_ASNS)


def _alternatives(
    value: Mapping[str, float | None] | Iterable[str | tuple[str, float | None]] | None,
) -> tuple[tuple[str, float | None], ...] | None:
    """Alternatives as sorted ``(code, weight)`` pairs; a bare code has weight None (unweighted)."""
    if value is None:
        return None
    items: Iterable[Any] = value.items() if isinstance(value, Mapping) else value
    out: dict[str, float | None] = {}
    for item in items:
        code, weight = (item, None) if isinstance(item, str) else item
        c = normalize_country(code)
        if c in out:
            raise InvalidParameterError(f"alternative {c} is named twice")
        if weight is not None:
            w = float(weight)
            if not math.isfinite(w) or w < 0:
                raise InvalidParameterError(f"the weight of alternative {c} must be a finite number >= 0")
            weight = w
        out[c] = weight
    if not out:
        raise InvalidParameterError("an empty list of alternatives: name at least one country, or use None")
    weights = list(out.values())
    if any(w is None for w in weights) and any(w is not None for w in weights):
        raise InvalidParameterError("give a weight to every alternative or to none")
    if weights[0] is not None and sum(w or 0.0 for w in weights) <= 0:
        raise InvalidParameterError("the weights of the alternatives are all zero")
    return tuple(sorted(out.items()))


def _asns(value: Iterable[int]) -> frozenset[int]:
    return frozenset(int(a) for a in value)


#: How the alternative hypothesis Hd is formed (see docs/assessment.md):
#: ``"each"``: every alternative country with enough ground truth taken separately, the weakest LR
#: reported (default); ``"weighted"``: one mixture of the named alternatives with their weights;
#: ``"pooled"``: every other country weighted by its ground truth (where RIPE Atlas has probes).
LR_HD_MODES: Final = ("each", "weighted", "pooled")


@attrs.frozen
class Policy:
    """Every parameter of the verdict (METHOD.md section 13); build one with :meth:`preset`.

    ``window_years`` years ending with the evidence's year, of which at least ``min_window_years``
    must lie in the ground truth; ``threshold`` applied to lower confidence bounds when
    ``conservative`` (else to point estimates); ``interval``/``level`` for every interval,
    ``clustering`` ``"probe"`` (intervals account for the many addresses one probe gives) or
    ``"none"`` (the paper's independent counts), with ``min_icc`` the smallest intra-probe
    correlation the design effect assumes (docs/assessment.md); ``not_located`` ``"exclude"`` (reference) or
    ``"wrong"``; minimum addresses over the window and per year; valid-geography thresholds
    (``geography_required`` makes them decide); the cloud/hosting ASN set and whether the shipped
    IP-to-ASN and cloud-range data check the address when the caller gives none
    (``network_data``); the ground truth of the evidence address's own network (reported; a
    criterion when ``network_required``); likelihood-ratio settings (``lr_hd``,
    ``lr_alternatives``, ``lr_min_addresses``); the database date gap that draws a flag.
    """

    name: str = "default"
    window_years: int = 8
    min_window_years: int = 4
    threshold: float = 0.95
    conservative: bool = True
    interval: str = "wilson"
    level: float = 0.95
    clustering: str = "probe"
    min_icc: float = DEFAULT_MIN_ICC
    not_located: str = "exclude"
    min_addresses_total: int = 1000
    min_addresses_per_year: int = 100
    geography_required: bool = True
    min_distinct_probes: int = 30
    min_distinct_asns: int = 5
    coverage_km: float = 50.0
    min_population_coverage: float = 0.5
    max_border_removed_share: float = 0.10
    overseas_invalid: bool = False
    cloud_asns: frozenset[int] = attrs.field(default=DEFAULT_HOSTING_ASNS, converter=_asns)
    cloud_invalid: bool = True
    network_data: bool = True
    network_required: bool = False
    min_network_addresses: int = 100
    report_lr: bool = True
    lr_hd: str = "each"
    lr_alternatives: tuple[tuple[str, float | None], ...] | None = attrs.field(
        default=None, converter=_alternatives
    )
    lr_min_addresses: int | None = None
    max_database_gap_days: int = 365

    def __attrs_post_init__(self) -> None:
        def bad(text: str) -> InvalidParameterError:
            return InvalidParameterError(f"policy {self.name!r}: {text}")

        if self.window_years < 1:
            raise bad("window_years must be at least 1")
        if not 1 <= self.min_window_years <= self.window_years:
            raise bad("min_window_years must lie between 1 and window_years")
        if not 0.0 < self.threshold <= 1.0:
            raise bad("threshold must lie in (0, 1]")
        if self.interval not in INTERVAL_METHODS:
            raise bad(f"interval must be one of {', '.join(INTERVAL_METHODS)}")
        if not 0.0 < self.level < 1.0:
            raise bad("level must lie in (0, 1)")
        if self.clustering not in ("probe", "none"):
            raise bad("clustering must be 'probe' or 'none'")
        if not 0.0 <= self.min_icc <= 1.0:
            raise bad("min_icc must lie in [0, 1]")
        if self.not_located not in ("exclude", "wrong"):
            raise bad("not_located must be 'exclude' or 'wrong'")
        if self.coverage_km <= 0:
            raise bad("coverage_km must be positive")
        if self.lr_hd not in LR_HD_MODES:
            raise bad(f"lr_hd must be one of {', '.join(LR_HD_MODES)}")
        weighted = self.lr_alternatives is not None and self.lr_alternatives[0][1] is not None
        if self.lr_hd == "weighted" and not weighted:
            raise bad("lr_hd 'weighted' needs alternatives with weights (for example AT=0.7, CH=0.3)")
        if self.lr_hd != "weighted" and weighted:
            raise bad(f"alternatives with weights need lr_hd 'weighted', not {self.lr_hd!r}")
        if self.lr_hd == "pooled" and self.lr_alternatives is not None:
            raise bad("lr_hd 'pooled' uses every other country; it takes no named alternatives")
        if self.lr_min_addresses is not None and self.lr_min_addresses < 1:
            raise bad("lr_min_addresses must be at least 1")
        if self.min_network_addresses < 1:
            raise bad("min_network_addresses must be at least 1")
        for a in self.cloud_asns:
            if not 0 < a < 2**32:
                raise bad(f"AS number {a} is outside 1..4294967295")

    @property
    def alternative_min_addresses(self) -> int:
        """Ground-truth addresses an alternative country needs in the window to enter Hd."""
        return self.min_addresses_total if self.lr_min_addresses is None else self.lr_min_addresses

    @classmethod
    def preset(cls, name: str, **changes: Any) -> Policy:
        """A named preset (``"reference"`` or ``"default"``), optionally with changed parameters."""
        try:
            base = PRESETS[name]
        except KeyError:
            raise InvalidParameterError(
                f"unknown policy preset {name!r}: expected one of {', '.join(sorted(PRESETS))}"
            ) from None
        return attrs.evolve(base, **changes) if changes else base

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self, recurse=False)
        data["cloud_asns"] = sorted(self.cloud_asns)
        data["lr_alternatives"] = (
            None if self.lr_alternatives is None else [list(x) for x in self.lr_alternatives]
        )
        return data

    def differences(self) -> dict[str, Any]:
        """The parameters that differ from the preset this policy is named after (for summaries)."""
        base = PRESETS.get(self.name, PRESETS["default"]).to_dict()
        return {k: v for k, v in self.to_dict().items() if base.get(k) != v}


PRESETS: Final[dict[str, Policy]] = {
    "default": Policy(),
    "reference": Policy(
        name="reference",
        conservative=False,
        min_addresses_total=1,
        min_addresses_per_year=1,
        geography_required=False,
        report_lr=False,
        clustering="none",
        min_window_years=1,
        network_data=False,
        cloud_asns=DEFAULT_CLOUD_ASNS,
    ),
}
