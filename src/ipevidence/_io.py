"""Atomic file writes: a temporary file in the target's directory, then ``os.replace``.

The one implementation behind every file the library writes (databases, caches, ground truths,
reports, synthetic logs). A reader never sees a half-written file, and a failed or interrupted
write leaves no temporary file behind. The result has mode 0644 (``mkstemp`` creates 0600; what
the library writes is meant to be read by others).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

#: the permission bits of a file written atomically
FILE_MODE = 0o644


@contextlib.contextmanager
def atomic_binary(
    path: str | os.PathLike[str], *, suffix: str = ".tmp", make_parents: bool = False
) -> Iterator[IO[bytes]]:
    """A binary file to write; on a clean exit it replaces ``path``, on an error it is removed.

    The temporary file is ``.<name>.<random><suffix>`` in ``path``'s directory, which
    ``make_parents`` creates first when missing.
    """
    target = Path(path)
    if make_parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_text(
    path: str | os.PathLike[str],
    *,
    encoding: str = "utf-8",
    newline: str | None = None,
    make_parents: bool = False,
) -> Iterator[IO[str]]:
    """A text file to write atomically (see :func:`atomic_binary`); ``newline`` as for :func:`open`."""
    with atomic_binary(path, make_parents=make_parents) as raw:
        f = io.TextIOWrapper(raw, encoding=encoding, newline=newline)
        try:
            yield f
        finally:
            f.detach()  # flushes; the binary file stays open for atomic_binary to close


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, make_parents: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_binary`)."""
    with atomic_binary(path, make_parents=make_parents) as f:
        f.write(data)


def atomic_write_text(
    path: str | os.PathLike[str], text: str, *, newline: str | None = None, make_parents: bool = False
) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically; ``newline`` as for :func:`open`."""
    with atomic_text(path, newline=newline, make_parents=make_parents) as f:
        f.write(text)
