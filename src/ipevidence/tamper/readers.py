"""Streaming readers of the logs an investigator receives, into a :class:`~.model.LogTable`.

Every reader reads its source line by line (a path or an open text stream), never the whole file at
once (an Entra ID export written as one JSON array is read record by record), holding at most
``max_line_chars`` characters of a line or record, and returns a :class:`LogRead`: the table, how
many lines were read, every malformed line counted with its line number (the first ``max_problems``
also with the reason and the text), and the lines that are not entries by design (another program's
syslog line, an anonymous web request, a failed sign-in) counted by reason. Nothing is dropped
silently; a malformed line is fatal only with ``strict=True``, which raises
:class:`~ipevidence.errors.LogFormatError` naming the line.

Readers: :func:`read_csv` and :func:`read_jsonl` (generic, with a :class:`ColumnMapping`) and the
presets :func:`read_moodle`, :func:`read_auth_log`, :func:`read_access_log` and
:func:`read_entra_signins`.

Where each part lives (this module re-exports every name, so ``ipevidence.tamper.readers.X`` keeps
working): :mod:`.reading` holds what every reader shares (:class:`LogRead`, :class:`LogProblem`,
:class:`ColumnMapping`, ``LogSource``, the line cap :data:`MAX_LINE_CHARS`, opening and decoding a
source, the collector of lines and problems); :mod:`.times` reads times
(:func:`make_time_parser`); :mod:`.csvlogs` has :func:`read_csv` and :func:`read_moodle`;
:mod:`.jsonlogs` has :func:`read_jsonl` and :func:`read_entra_signins`; :mod:`.textlogs` has
:func:`read_auth_log` and :func:`read_access_log`.
"""

from __future__ import annotations

from .csvlogs import (
    MOODLE_COLUMNS,
    MOODLE_TIME_FORMAT,
    read_csv,
    read_moodle,
)
from .jsonlogs import _DECODER as _DECODER
from .jsonlogs import _JSON_TOKEN as _JSON_TOKEN
from .jsonlogs import _JSON_WS as _JSON_WS
from .jsonlogs import _dig as _dig
from .jsonlogs import _from_record as _from_record
from .jsonlogs import _json_lines as _json_lines
from .jsonlogs import _json_records as _json_records
from .jsonlogs import _JsonStream as _JsonStream
from .jsonlogs import _RecordTooLong as _RecordTooLong
from .jsonlogs import (
    read_entra_signins,
    read_jsonl,
)
from .reading import _ERRORS as _ERRORS
from .reading import _MAX_TEXT as _MAX_TEXT
from .reading import _OVERLONG as _OVERLONG
from .reading import _SKIP_CHUNK as _SKIP_CHUNK
from .reading import _SURROGATE as _SURROGATE
from .reading import (
    MAX_LINE_CHARS,
    ColumnMapping,
    LogProblem,
    LogRead,
    LogSource,
)
from .reading import _capped as _capped
from .reading import _Collector as _Collector
from .reading import _count_replace as _count_replace
from .reading import _decoding as _decoding
from .reading import _is_unicode as _is_unicode
from .reading import _open as _open
from .reading import _overlong as _overlong
from .reading import _parse_time as _parse_time
from .reading import _text_lines as _text_lines
from .reading import _unicode as _unicode
from .textlogs import _ACCEPTED as _ACCEPTED
from .textlogs import _CLF_TIME as _CLF_TIME
from .textlogs import _COMBINED as _COMBINED
from .textlogs import _MONTHS as _MONTHS
from .textlogs import _SYSLOG as _SYSLOG
from .textlogs import _clf_time as _clf_time
from .textlogs import (
    read_access_log,
    read_auth_log,
)
from .times import _ISO_FRACTION as _ISO_FRACTION
from .times import _format_resolution as _format_resolution
from .times import _parse_iso as _parse_iso
from .times import _time_parser as _time_parser
from .times import _zone as _zone
from .times import make_time_parser

__all__ = [
    "MAX_LINE_CHARS",
    "MOODLE_COLUMNS",
    "MOODLE_TIME_FORMAT",
    "ColumnMapping",
    "LogProblem",
    "LogRead",
    "LogSource",
    "make_time_parser",
    "read_access_log",
    "read_auth_log",
    "read_csv",
    "read_entra_signins",
    "read_jsonl",
    "read_moodle",
]
