"""Where a generated archive's probe addresses come from, and the warning when no real database can
place them (issue 15, finding 8).

:func:`default_address_ranges` is the generator's own plan: four public /16 blocks per country,
deterministic and disjoint. It makes tests exact, but no real geolocation database places those
blocks in the countries the plan gives them, so a ground truth built from such an archive and
geolocated with the shipped IP2Location LITE database measures nonsense (DE 0 %, US 47.59 %).
:func:`generate_archive <ipevidence.synthetic.archive.generate_archive>` therefore warns
(:class:`PlanAddressWarning`) when it uses the plan; :func:`shipped_address_ranges` gives ranges
the shipped database places in each country (what ``ipevidence demo`` uses).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from ..countries import all_countries

__all__ = [
    "PlanAddressWarning",
    "default_address_ranges",
    "shipped_address_ranges",
    "warn_plan_addresses",
]

#: what the warning says (also in docs/synthetic.md)
PLAN_WARNING = (
    "the generated probe addresses come from the generator's own address plan "
    "(default_address_ranges), which no real geolocation database matches: geolocating this "
    "archive's ground truth with a real database such as the shipped IP2Location LITE gives "
    "meaningless accuracies (for example DE 0 %). For meaningful numbers pass "
    "address_ranges=ipevidence.synthetic.addressplan.shipped_address_ranges() to "
    "SyntheticArchiveConfig, or use ipevidence.demo.generate_demo_archive"
)


class PlanAddressWarning(UserWarning):
    """A generated archive's addresses come from the generator's plan, not from a real database."""


def warn_plan_addresses(stacklevel: int = 3) -> None:
    """Warn (:class:`PlanAddressWarning`) that the plan's addresses match no real database."""
    warnings.warn(PLAN_WARNING, PlanAddressWarning, stacklevel=stacklevel)


@functools.cache
def _default_blocks() -> dict[str, npt.NDArray[np.int64]]:
    bad_first = {0, 10, 100, 127, 169, 172, 192, 198, 203, 3, 4, 13, 18, 34, 35, 44, 46, 52, 108}
    cand = np.array([a * 256 + b for a in range(1, 224) if a not in bad_first for b in range(256)], np.int64)
    perm = np.random.default_rng(1305).permutation(cand)
    codes = [c.alpha2 for c in all_countries()]
    return {cc: np.sort(perm[4 * i : 4 * i + 4]) for i, cc in enumerate(codes)}


def default_address_ranges(country: str) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """The built-in allocation: four public /16 blocks per country (deterministic, disjoint
    between countries, outside the cloud providers' ranges used here). No real database places
    them in these countries: see the module documentation."""
    blocks = _default_blocks()[country]
    starts = (blocks << 16).astype(np.uint32)
    return starts, (starts + np.uint32(0xFFFF)).astype(np.uint32)


def shipped_address_ranges(
    database: object | None = None,
) -> Callable[[str], tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]]:
    """``country -> (starts, ends)``: the ranges a database (default: the shipped IP2Location LITE
    DB1) places in each country, for ``SyntheticArchiveConfig(address_ranges=...)``; the database
    then places almost every generated probe in its declared country."""
    from ..backends import open_database
    from ..defaults import default_database_path

    db: object = database if database is not None else open_database(default_database_path())
    ranges_for = getattr(db, "ranges_for", None)
    if ranges_for is None:
        raise TypeError("the database has no ranges_for(country): use an IP2Location, mmdb or CSV backend")

    def address_ranges(country: str) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
        s, e = ranges_for(country)
        return np.asarray(s, np.uint32), np.asarray(e, np.uint32)

    return address_ranges
