"""The exception tree of ipevidence.

Every error the library raises on purpose derives from :class:`IpEvidenceError` and from the
built-in exception a caller would naturally catch, so ``except ValueError`` and
``except IpEvidenceError`` both work::

    IpEvidenceError(Exception)
    ├── InvalidAddressError(ValueError)         not an IP address at all
    │   └── ReservedAddressError                private, shared, loopback, documentation, ...
    ├── UnknownCountryError(ValueError)         not an ISO 3166-1 alpha-2 code we know
    ├── OutsideGroundTruthError(ValueError)     evidence date outside the ground truth's window
    ├── FamilyMismatchError(ValueError)         IPv4 ground truth with an IPv6-only backend, ...
    ├── ArchiveError
    │   ├── ArchiveCorruptError(ValueError)     a day file that cannot be read whole
    │   ├── ArchiveMissingError(FileNotFoundError)  a day the source does not have (404)
    │   └── ArchiveDownloadError(OSError)       the transfer failed after every retry
    ├── DatabaseError
    │   ├── DatabaseFormatError(ValueError)     a geolocation database that is not what it claims
    │   └── DatabaseSelectionError(LookupError) no database in a catalogue fits the date and rule
    ├── RangeFileError(ValueError)              a provider range file or ASN file that cannot be read
    ├── GroundTruthFormatError(ValueError)      a saved ground truth that cannot be loaded
    ├── LogFormatError(ValueError)              a log file that cannot be read (strict mode)
    ├── InvalidParameterError(ValueError)       a bad argument: a date that is not a date, an ASN
    │                                           out of range, Hp among its own alternatives, ...
    ├── InvalidEvidenceDateError(ValueError)    (subclass of InvalidParameterError) not a date
    └── OutputPathError(OSError)                an output path that exists and is not a regular file
"""

from __future__ import annotations

import datetime as _dt

__all__ = [
    "ArchiveCorruptError",
    "ArchiveDownloadError",
    "ArchiveError",
    "ArchiveMissingError",
    "DatabaseError",
    "DatabaseFormatError",
    "DatabaseSelectionError",
    "FamilyMismatchError",
    "GroundTruthFormatError",
    "InvalidAddressError",
    "InvalidEvidenceDateError",
    "InvalidParameterError",
    "IpEvidenceError",
    "LogFormatError",
    "OutputPathError",
    "OutsideGroundTruthError",
    "RangeFileError",
    "ReservedAddressError",
    "UnknownCountryError",
]


class IpEvidenceError(Exception):
    """Root of every error raised on purpose by ipevidence."""


class InvalidAddressError(IpEvidenceError, ValueError):
    """A string or value that is not a valid IPv4 or IPv6 address."""

    def __init__(self, address: object, reason: str = "not a valid IPv4 or IPv6 address") -> None:
        self.address = address
        self.reason = reason
        super().__init__(f"{address!r}: {reason}")


class ReservedAddressError(InvalidAddressError):
    """A valid address that is not globally routable (private, shared, loopback, ...).

    Such an address can never be evidence of a country location.
    """


class UnknownCountryError(IpEvidenceError, ValueError):
    """A country code that is not a known ISO 3166-1 alpha-2 code."""

    def __init__(self, code: object) -> None:
        self.code = code
        super().__init__(f"unknown country code {code!r}: expected an ISO 3166-1 alpha-2 code such as 'DE'")


class OutsideGroundTruthError(IpEvidenceError, ValueError):
    """The evidence date lies outside the years the ground truth covers."""


class FamilyMismatchError(IpEvidenceError, ValueError):
    """Objects of different address families were combined (IPv4 with IPv6)."""


class ArchiveError(IpEvidenceError):
    """Base of the errors about RIPE Atlas archive days."""


class ArchiveCorruptError(ArchiveError, ValueError):
    """An archive day file that cannot be read whole (truncated, not JSON, an HTML page, ...)."""

    def __init__(
        self,
        reason: str,
        *,
        path: str | None = None,
        day: _dt.date | None = None,
        sha256: str | None = None,
    ) -> None:
        self.reason = reason
        self.path = path
        self.day = day
        self.sha256 = sha256
        where = path or (day.isoformat() if day else "archive file")
        super().__init__(f"{where}: corrupt archive day: {reason}")


class ArchiveMissingError(ArchiveError, FileNotFoundError):
    """A day that the archive source does not have (HTTP 404 or no such file)."""

    def __init__(self, day: _dt.date, where: str) -> None:
        self.day = day
        self.where = where
        super().__init__(f"{day.isoformat()}: no archive file at {where}")


class ArchiveDownloadError(ArchiveError, OSError):
    """A download that failed after every retry (network error, 5xx, truncated transfer)."""


class DatabaseError(IpEvidenceError):
    """Base of the errors about geolocation databases."""


class DatabaseFormatError(DatabaseError, ValueError):
    """A file that is not a readable geolocation database of the kind it appears to be."""


class DatabaseSelectionError(DatabaseError, LookupError):
    """No database of a catalogue satisfies the selection rule for a date (none built before it,
    several different builds of the same date, an explicit file that is not in the catalogue)."""


class RangeFileError(IpEvidenceError, ValueError):
    """A provider's published range file, or an IP-to-ASN file, that cannot be read."""


class GroundTruthFormatError(IpEvidenceError, ValueError):
    """A saved ground-truth file that cannot be loaded."""


class LogFormatError(IpEvidenceError, ValueError):
    """A log file or line that cannot be read (raised only when strictness is asked for)."""


class InvalidParameterError(IpEvidenceError, ValueError):
    """An argument or policy parameter the library cannot use: an ASN outside 1..2**32-1, the
    claimed country named among its own alternatives, alternative weights that are all zero, ..."""


class InvalidEvidenceDateError(InvalidParameterError):
    """An evidence date that is not a date (``"garbage"``, ``None``, a number)."""


class OutputPathError(IpEvidenceError, OSError):
    """An output path the library refuses to write: it exists and is not a regular file (a symlink,
    FIFO, device, socket or directory), or a report directory path that is not a directory."""
