"""ipevidence: the evidential value of IP-to-country geolocation (Komosny 2023 method).

The public face of the library; everything not named in ``__all__`` is internal.
"""

from ._version import __version__
from .errors import (
    ArchiveCorruptError,
    ArchiveDownloadError,
    ArchiveError,
    ArchiveMissingError,
    DatabaseError,
    DatabaseFormatError,
    FamilyMismatchError,
    GroundTruthFormatError,
    InvalidAddressError,
    IpEvidenceError,
    LogFormatError,
    OutsideGroundTruthError,
    RangeFileError,
    ReservedAddressError,
    UnknownCountryError,
)
from .groundtruth import Funnel, FunnelStep, GroundTruth

__all__ = [
    "ArchiveCorruptError",
    "ArchiveDownloadError",
    "ArchiveError",
    "ArchiveMissingError",
    "DatabaseError",
    "DatabaseFormatError",
    "FamilyMismatchError",
    "Funnel",
    "FunnelStep",
    "GroundTruth",
    "GroundTruthFormatError",
    "InvalidAddressError",
    "IpEvidenceError",
    "LogFormatError",
    "OutsideGroundTruthError",
    "RangeFileError",
    "ReservedAddressError",
    "UnknownCountryError",
    "__version__",
]
