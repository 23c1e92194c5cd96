"""Atomic file writes: a temporary file in the target's directory, then ``os.replace``.

The one implementation behind every file the library writes (databases, caches, ground truths,
reports, synthetic logs). A reader never sees a half-written file, and a failed or interrupted
write leaves no temporary file behind. The result has mode 0644 (``mkstemp`` creates 0600; what
the library writes is meant to be read by others).

Every write first checks its target with :func:`check_output_path`: a path that exists and is not
a regular file (a symlink, FIFO, device node, socket or directory) is refused with
:class:`~ipevidence.errors.OutputPathError`, so ``-o /dev/full`` or ``-o link-to-evidence`` never
replaces the node or the link. A report's several files are written as one set by
:func:`write_file_set` (a new folder appears whole by one rename; an existing folder gets a
SHA-256 manifest written last, see there).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import io
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO

from .errors import OutputPathError

#: the permission bits of a file written atomically
FILE_MODE = 0o644
#: the permission bits of a report folder created by :func:`write_file_set`
DIR_MODE = 0o755

_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path if it does not exist or is a regular file (not a symlink to one);
    otherwise :class:`~ipevidence.errors.OutputPathError` (exit 3 in the command), naming what it is.

    The check looks at the path itself (``lstat``), so a symlink is refused whatever it points to:
    replacing it would break the link, following it would write somewhere the user did not name.
    """
    target = Path(path)
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return target
    except NotADirectoryError:
        raise OutputPathError(f"{target}: a parent of this output path is not a directory") from None
    if not stat.S_ISREG(st.st_mode):
        raise OutputPathError(
            f"{target}: exists and is {_kind(st.st_mode)}, not a regular file; refusing to replace it "
            f"(remove it or choose another output path)"
        )
    return target


def check_output_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path if it does not exist or is a directory (a symlink to a directory is
    accepted: files are written inside it, the link is never replaced); otherwise OutputPathError."""
    target = Path(path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        if target.is_symlink():
            raise OutputPathError(
                f"{target}: a dangling symbolic link; refusing to write through it"
            ) from None
        return target
    except NotADirectoryError:
        raise OutputPathError(f"{target}: a parent of this output folder is not a directory") from None
    if not stat.S_ISDIR(st.st_mode):
        what = "a regular file" if stat.S_ISREG(st.st_mode) else _kind(st.st_mode)
        raise OutputPathError(f"{target}: exists and is {what}, not a directory; refusing to write there")
    return target


@contextlib.contextmanager
def atomic_binary(
    path: str | os.PathLike[str], *, suffix: str = ".tmp", make_parents: bool = False
) -> Iterator[IO[bytes]]:
    """A binary file to write; on a clean exit it replaces ``path``, on an error it is removed.

    The temporary file is ``.<name>.<random><suffix>`` in ``path``'s directory, which
    ``make_parents`` creates first when missing.
    """
    target = check_output_path(path)
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


# ------------------------------------------------------------------------------------- file sets
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_text(files: Mapping[str, bytes]) -> str:
    """The manifest of a file set: one ``<sha256>  <relative path>`` line per file, sorted by path,
    in the format of ``sha256sum`` (so ``sha256sum -c`` checks it)."""
    return "".join(f"{_sha256(files[name])}  {name}\n" for name in sorted(files))


def _remove_stale_sets(out: Path, names: Iterable[str]) -> None:
    """Remove what a killed :func:`write_file_set` of ``out`` left behind: the hidden temporary
    folder beside it (``.<name>.<random>.tmp``) and, inside it, the hidden temporary files of the
    set's own files. None of them was ever a file anyone could read."""
    for stale in out.parent.glob(f".{glob.escape(out.name)}.*.tmp"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
    if not out.is_dir():
        return
    for name in names:
        target = out / name
        if not target.parent.is_dir():
            continue
        for stale in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
            if stale.is_file() and not stale.is_symlink():
                with contextlib.suppress(OSError):
                    stale.unlink()


def write_file_set(
    directory: str | os.PathLike[str], files: Mapping[str, bytes], *, manifest: str
) -> dict[str, Path]:
    """Write several files as ONE set into ``directory`` so that a reader never takes a mix of two
    sets for a set; return the path of every file written (the manifest too, under its name).

    ``files`` maps a relative path (``"report.html"``, ``"figures/a.png"``) to its bytes;
    ``manifest`` names the manifest file (sha256sum format, :func:`manifest_text`).

    * ``directory`` does not exist: the set and its manifest are written into a hidden temporary
      sibling folder, which one ``rename`` then turns into ``directory``: a reader sees no folder,
      or the whole set. A failure removes the temporary folder; what a kill left behind (that
      folder, or the temporary files of the set's files) is removed by the next write of the set.
    * ``directory`` exists (it may hold other files, such as a demo's archive): every target is
      checked first (:func:`check_output_path`); then the old manifest is removed, each file is
      replaced atomically, and the new manifest is written LAST. A set whose manifest is missing
      or does not match (:func:`verify_file_set`) is incomplete, whatever its files look like: an
      interruption between two files leaves no manifest, never a manifest that vouches for a mix.
    """
    out = check_output_dir(directory)
    for name in files:
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ValueError(f"{name!r}: a file of a set must be a relative path inside its folder")
    text = manifest_text(files).encode("utf-8")
    written = {name: out / name for name in files} | {manifest: out / manifest}
    if out.parent.is_dir():
        _remove_stale_sets(out, [*files, manifest])
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        try:
            for name, data in {**files, manifest: text}.items():
                atomic_write_bytes(tmp / name, data, make_parents=True)
            for sub in sorted({p.parent for p in tmp.rglob("*")} | {tmp}):
                os.chmod(sub, DIR_MODE)
            os.rename(tmp, out)  # fails (and the set goes in place below) if out appeared meanwhile
            return written
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not out.is_dir():
                raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    for path in written.values():
        check_output_path(path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(out / manifest)
    for name, data in files.items():
        atomic_write_bytes(out / name, data, make_parents=True)
    atomic_write_bytes(out / manifest, text)
    return written


def verify_file_set(directory: str | os.PathLike[str], *, manifest: str) -> list[str]:
    """The problems of the file set in ``directory`` (empty: complete and consistent): a missing
    manifest, a listed file that is missing or whose SHA-256 differs."""
    out = Path(directory)
    try:
        lines = (out / manifest).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return [f"{manifest}: missing (the set is incomplete or was interrupted)"]
    problems: list[str] = []
    for line in lines:
        digest, sep, name = line.partition("  ")
        if not sep:
            problems.append(f"{manifest}: unreadable line {line[:80]!r}")
            continue
        try:
            data = (out / name).read_bytes()
        except OSError:
            problems.append(f"{name}: missing")
            continue
        if _sha256(data) != digest:
            problems.append(f"{name}: SHA-256 differs from the manifest")
    return problems
