"""What a ground-truth build takes: its parameters and presets (METHOD.md section 13), the
rules' names, and the protocols of the border checker and IP-to-ASN table it is given."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any, Final, Literal, Protocol

import attrs
import numpy as np

from ..countries import normalize_country


class BorderChecker(Protocol):
    """What the border step needs (``ipevidence.geography.Borders`` is one)."""

    def check(
        self,
        declared: Any,
        lat: Any,
        lon: Any,
        *,
        tolerance_km: float = ...,
        main_territory: Collection[str] = ...,
    ) -> Any: ...


class AsnLookup(Protocol):
    """What the daily filter needs to fill missing ASNs (``ipevidence.networks.AsnTable`` is one):
    a vectorised ``lookup`` of an address column returning ASNs (0 where unknown)."""

    def lookup(self, addresses: Any) -> Any: ...


DedupPolicy = Literal["first-seen", "per-run", "last-seen"]
CountryChangeTest = Literal["daily", "after-dedup"]

#: the de-duplication ("most distant" address selection) policies; the first is the reference
DEDUP_POLICIES: Final[tuple[str, ...]] = ("first-seen", "per-run", "last-seen")
#: the daily filter's rules, in the order they are applied (METHOD.md section 2)
DAILY_RULES: Final[tuple[str, ...]] = ("status", "coordinates", "country", "address", "asn")
PRESETS: Final[tuple[str, ...]] = ("default", "reference")

_DAY: Final = np.dtype("datetime64[D]")
_NAT: Final = np.datetime64("NaT", "D")

_DAILY_DESCRIPTIONS: Final[Mapping[str, str]] = {
    "status": "daily: probe status is not Connected",
    "coordinates": "daily: latitude/longitude missing, not finite or out of range",
    "country": "daily: declared country missing or not a known ISO 3166-1 alpha-2 code",
    "address": "daily: address missing, unparsable or not globally routable unicast",
    "asn": "daily: ASN of the family missing",
}


def _default_cloud_asns() -> tuple[int, ...]:
    from ..networks import DEFAULT_CLOUD_ASNS

    return tuple(sorted(int(a) for a in DEFAULT_CLOUD_ASNS))


def _norm_countries(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    return tuple(sorted({normalize_country(c) for c in value}))


def _norm_ints(value: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted({int(v) for v in value}))


def _check_dedup(_inst: object, _attr: object, value: str) -> None:
    if value not in DEDUP_POLICIES:
        raise ValueError(f"unknown de-duplication policy {value!r}: use one of {', '.join(DEDUP_POLICIES)}")


def _check_every(_inst: object, _attr: object, value: int) -> None:
    if value < 1:
        raise ValueError(f"every must be >= 1, not {value}")


def _check_tolerance(_inst: object, _attr: object, value: float) -> None:
    if not value >= 0.0:
        raise ValueError(f"border tolerance must be >= 0 km, not {value}")


@attrs.frozen
class GroundTruthParams:
    """Every parameter of a ground-truth build (recorded whole in the result's ``parameters``).

    Presets (METHOD.md section 13), see :meth:`preset`:

    * ``"default"``: first-seen most-distant selection; a probe is unreliable when its declared
      country differs between ANY two kept daily records; border check of every country with a
      10 km coast tolerance and France restricted to its main (European) territory; cloud ASNs
      removed;
    * ``"reference"`` (Komosny 2023 as coded): first-seen; country change tested after
      de-duplication (a change with an unchanged address goes unnoticed); strict borders
      (tolerance 0 km), European France; cloud ASNs removed.
    """

    preset: str = "default"
    dedup: str = attrs.field(default="first-seen", validator=_check_dedup)
    country_change: CountryChangeTest = attrs.field(
        default="daily", validator=attrs.validators.in_(("daily", "after-dedup"))
    )
    require_asn: bool = True
    border_check: bool = True
    border_scale: str = "10m"
    border_tolerance_km: float = attrs.field(default=10.0, converter=float, validator=_check_tolerance)
    main_territory: tuple[str, ...] = attrs.field(default=("FR",), converter=_norm_countries)
    exclude_probes: tuple[int, ...] = attrs.field(default=(), converter=_norm_ints)
    cloud_filter: bool = True
    cloud_asns: tuple[int, ...] = attrs.field(factory=_default_cloud_asns, converter=_norm_ints)
    every: int = attrs.field(default=1, converter=int, validator=_check_every)

    def __attrs_post_init__(self) -> None:
        if self.country_change == "after-dedup" and self.preset != "reference":
            raise ValueError(
                "country_change='after-dedup' (the reference notebook's test, which misses a country "
                "change with an unchanged address) is offered only in the 'reference' preset"
            )

    @classmethod
    def preset_params(cls, name: str = "default", **overrides: Any) -> GroundTruthParams:
        """The parameters of a named preset, with keyword overrides (None values ignored)."""
        fields: dict[str, Any]
        if name == "default":
            fields = {"preset": "default"}
        elif name == "reference":
            fields = {"preset": "reference", "country_change": "after-dedup", "border_tolerance_km": 0.0}
        else:
            raise ValueError(f"unknown preset {name!r}: use one of {', '.join(PRESETS)}")
        fields.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "dedup": self.dedup,
            "country_change": self.country_change,
            "require_asn": self.require_asn,
            "border_check": self.border_check,
            "border_scale": self.border_scale,
            "border_tolerance_km": self.border_tolerance_km,
            "main_territory": list(self.main_territory),
            "exclude_probes": list(self.exclude_probes),
            "cloud_filter": self.cloud_filter,
            "cloud_asns": list(self.cloud_asns),
            "every": self.every,
        }

    def __str__(self) -> str:
        borders = (
            f"{self.border_scale} tolerance {self.border_tolerance_km:g} km" if self.border_check else "off"
        )
        cloud = len(self.cloud_asns) if self.cloud_filter else "off"
        return (
            f"ground-truth parameters ({self.preset}): most distant selection {self.dedup}, "
            f"country change tested on {self.country_change} records, borders {borders}, "
            f"cloud ASNs {cloud}, every {self.every} day(s)"
        )


def _resolve_params(preset: str | GroundTruthParams, overrides: Mapping[str, Any]) -> GroundTruthParams:
    known = {f.name for f in attrs.fields(GroundTruthParams)} - {"preset"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(
            f"unknown ground-truth parameter(s) {', '.join(unknown)}: use {', '.join(sorted(known))}"
        )
    if isinstance(preset, GroundTruthParams):
        changes = {k: v for k, v in overrides.items() if v is not None}
        return attrs.evolve(preset, **changes) if changes else preset
    return GroundTruthParams.preset_params(preset, **overrides)
