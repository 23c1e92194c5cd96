"""bzip2 decompression of one file on several threads, block by block, with a safe fallback.

A bzip2 stream is ``BZh`` + a level digit, then blocks that each start with the 48-bit magic
``0x314159265359`` followed by the block's CRC, then the 48-bit end-of-stream magic
``0x177245385090``, the stream's combined CRC and zero to seven padding bits. Blocks are not
byte-aligned, but each one is independent: :func:`decompress` finds every block magic at any bit offset
(for each of the eight bit shifts, one ``bytes.find`` scan for the five or six whole bytes that a
magic at that shift must put into the file, each hit then checked bit-exact), cuts the bit stream
at the magics, re-wraps every block as a standalone one-block stream (``BZh`` + the original level
digit + the block's bits re-aligned to a byte boundary + end-of-stream magic + the block's own
CRC, which is the combined CRC of a one-block stream) and decompresses the blocks concurrently in
threads (CPython's ``_bz2`` releases the GIL while it decompresses). The pieces are joined in
order.

Correctness does not rest on the search. libbzip2 checks every block's CRC and every piece's
stream CRC, the combined CRC recomputed from the block CRCs found must equal the file's own, every
piece must end exactly at its end-of-stream marker, and any irregularity at all (no block found,
fewer than two blocks, a false magic inside the compressed data, a second stream, bytes after the
end-of-stream marker, an output beyond the size cap, a piece that libbzip2 rejects) makes
:func:`decompress` answer with the plain sequential :func:`bunzip` instead, so the result and
every error are exactly those of the sequential path.
"""

from __future__ import annotations

import bz2
import concurrent.futures as cf
import itertools
import os
from collections.abc import Iterator
from typing import Final

__all__ = [
    "DEFAULT_MAX_DECOMPRESSED",
    "OUTPUT_STEP",
    "BlockLayout",
    "bunzip",
    "decompress",
    "default_threads",
    "find_blocks",
]

#: the largest decompressed day accepted by default: a real day is about 20 MB of JSON (2024), so
#: 256 MiB leaves more than ten times the room; a larger text is recorded corrupt (size cap)
DEFAULT_MAX_DECOMPRESSED: Final = 256 * 2**20

_BZ_MAGIC: Final = b"BZh"
_BLOCK_MAGIC: Final = 0x314159265359
_EOS_MAGIC: Final = 0x177245385090
_BLOCK_MAGIC_BYTES: Final = _BLOCK_MAGIC.to_bytes(6, "big")
_EOS_MAGIC_BYTES: Final = _EOS_MAGIC.to_bytes(6, "big")
_MASK32: Final = 0xFFFFFFFF
#: smallest possible block: magic + CRC + randomised bit + origPtr + symbol map + ... (far more
#: than this; a cut closer than this to the next magic cannot be a real block)
_MIN_BLOCK_BITS: Final = 48 + 32 + 1 + 24 + 16


def default_threads() -> int:
    """Threads for one file: two when the machine has them (bzip2 blocks scale, but the
    day-level process pool is where more cores go)."""
    return max(1, min(2, os.cpu_count() or 1))


# ---------------------------------------------------------------------------------------------
# the sequential reference path (multi-stream files, as written by pbzip2, are accepted)


#: output produced per decompression call: the size cap is checked after each of these, so a bomb
#: stops within one step past the cap (a real day, about 20 MB of JSON, is one step: no join, no copy)
OUTPUT_STEP: Final = 64 * 2**20


def bunzip(raw: bytes, max_decompressed: int = DEFAULT_MAX_DECOMPRESSED) -> bytes:
    """Decompress a complete bzip2 file; raise ValueError for truncated or trailing-garbage input
    and for output beyond ``max_decompressed`` bytes (a bzip2 bomb).

    The output is produced in steps of at most :data:`OUTPUT_STEP` bytes and the cap is checked
    after every step, so memory never exceeds the cap plus one step while decompressing (and twice
    the output while the steps of a large file are joined)."""
    parts: list[bytes] = []
    total = 0
    data = raw
    while True:
        dec = bz2.BZ2Decompressor()
        feed = data
        while True:
            try:
                out = dec.decompress(feed, max_length=min(OUTPUT_STEP, max_decompressed - total + 1))
            except OSError as exc:
                raise ValueError(f"invalid bzip2 data ({exc})") from None
            feed = b""
            total += len(out)
            if total > max_decompressed:
                parts.clear()
                raise ValueError(
                    f"decompresses to more than {max_decompressed} bytes (limit max_decompressed)"
                )
            if out:
                parts.append(out)
            if dec.eof or dec.needs_input:
                break
        if not dec.eof:
            raise ValueError("truncated bzip2 stream (no end-of-stream marker)")
        data = dec.unused_data
        if not data:
            break
        if not data.startswith(_BZ_MAGIC):
            if data.strip(b"\0"):
                raise ValueError(f"{len(data)} bytes of trailing garbage after the bzip2 stream")
            break
    if len(parts) == 1:
        return parts[0]
    out = b"".join(parts)
    parts.clear()
    return out


# ---------------------------------------------------------------------------------------------
# finding the blocks


class _Irregular(ValueError):
    """The file is not a plain single-stream bzip2 file that the block path can handle."""


def _find_all(hay: bytes, needle: bytes) -> Iterator[int]:
    i = hay.find(needle)
    while i >= 0:
        yield i
        i = hay.find(needle, i + 1)


def _patterns(magic: int) -> list[tuple[int, bytes]]:
    """For each bit shift ``s``, the whole bytes that a 48-bit magic starting at bit ``8 * i + s``
    puts into the file: the 6 bytes at ``i`` for ``s = 0``, else the 5 bytes at ``i + 1`` (magic
    bits ``8 - s`` .. ``47 - s``)."""
    out = [(0, magic.to_bytes(6, "big"))]
    out += [(s, ((magic >> s) & (2**40 - 1)).to_bytes(5, "big")) for s in range(1, 8)]
    return out


_BLOCK_PATTERNS: Final = _patterns(_BLOCK_MAGIC)
_EOS_PATTERNS: Final = _patterns(_EOS_MAGIC)


def _find_magic(data: bytes, magic: int, patterns: list[tuple[int, bytes]]) -> list[int]:
    """Bit offsets of every occurrence of a 48-bit magic at any bit offset: one ``bytes.find``
    scan per shift for the whole bytes the magic must contain, each hit then checked bit-exact."""
    nbits = 8 * len(data)
    found = []
    for shift, pattern in patterns:
        for j in _find_all(data, pattern):
            pos = 8 * j if shift == 0 else 8 * (j - 1) + shift
            if pos >= 0 and pos + 48 <= nbits and _bits_at(data, pos, 48) == magic:
                found.append(pos)
    return sorted(found)


def _magic_bits(data: bytes) -> tuple[list[int], list[int]]:
    """Bit offsets (from the start of ``data``) of every block magic and end-of-stream magic."""
    return _find_magic(data, _BLOCK_MAGIC, _BLOCK_PATTERNS), _find_magic(data, _EOS_MAGIC, _EOS_PATTERNS)


def _bits(value: int, width: int, start: int, stop: int) -> int:
    """Bits ``start`` .. ``stop`` - 1 (counted from the most significant end) of a ``width``-bit
    integer, as an integer of ``stop - start`` bits."""
    return (value >> (width - stop)) & ((1 << (stop - start)) - 1)


class BlockLayout:
    """Where the blocks of a single-stream bzip2 file are: ``starts[i]`` is the bit offset of block
    i's magic, ``end`` the bit offset of the end-of-stream magic, ``crcs`` the block CRCs,
    ``level`` the header's level digit (``b"9"``) and ``stream_crc`` the combined CRC."""

    __slots__ = ("crcs", "end", "level", "starts", "stream_crc")

    def __init__(self, level: bytes, starts: list[int], end: int, crcs: list[int], stream_crc: int) -> None:
        self.level = level
        self.starts = starts
        self.end = end
        self.crcs = crcs
        self.stream_crc = stream_crc

    def __len__(self) -> int:
        return len(self.starts)


def _bits_at(data: bytes, pos: int, n: int) -> int:
    """The ``n`` bits of ``data`` starting at bit offset ``pos`` (most significant first)."""
    first = pos // 8
    last = (pos + n + 7) // 8
    return _bits(
        int.from_bytes(data[first:last], "big"), 8 * (last - first), pos - 8 * first, pos - 8 * first + n
    )


def find_blocks(data: bytes) -> BlockLayout:
    """The block layout of a single-stream bzip2 file; raises ValueError when the file is anything
    else (not bzip2, several streams, bytes after the end-of-stream marker, a magic found where no
    block can start, block CRCs that do not combine into the stream CRC)."""
    if len(data) < 14 or not data.startswith(_BZ_MAGIC) or data[3] not in b"123456789":
        raise _Irregular("not a bzip2 header")
    blocks, eos = _magic_bits(data)
    nbits = 8 * len(data)
    if len(eos) != 1:  # a second stream brings its own end-of-stream marker
        raise _Irregular(f"{len(eos)} end-of-stream markers (several streams, or a false magic)")
    end = eos[0]
    # end-of-stream magic + 32-bit CRC + 0..7 padding bits end the file exactly
    if not (nbits - 8 < end + 80 <= nbits):
        raise _Irregular("bytes after the end-of-stream marker")
    if any(
        data[j + 3] in b"123456789" and data[j + 4 : j + 10] == _BLOCK_MAGIC_BYTES
        for j in _find_all(data, _BZ_MAGIC)
        if 0 < j < len(data) - 10
    ):
        raise _Irregular("a second bzip2 stream")
    if not blocks or blocks[0] != 32:
        raise _Irregular("no block right after the header")
    if blocks[-1] >= end:
        raise _Irregular("a block magic after the end-of-stream marker")
    bounds = [*blocks, end]
    if any(b - a < _MIN_BLOCK_BITS for a, b in itertools.pairwise(bounds)):
        raise _Irregular("a block magic inside a block header")
    crcs = [_bits_at(data, s + 48, 32) for s in blocks]
    stream_crc = _bits_at(data, end + 48, 32)
    combined = 0
    for crc in crcs:
        combined = (((combined << 1) | (combined >> 31)) & _MASK32) ^ crc
    if combined != stream_crc:
        raise _Irregular("block CRCs do not combine into the stream CRC (a false block magic?)")
    return BlockLayout(data[3:4], blocks, end, crcs, stream_crc)


def _piece(data: bytes, level: bytes, start: int, stop: int, crc: int) -> bytes:
    """Bits ``start`` .. ``stop`` - 1 of ``data`` (one block, magic included) as a standalone
    one-block bzip2 stream."""
    first = start // 8
    last = (stop + 7) // 8
    chunk = int.from_bytes(data[first:last], "big")
    width = 8 * (last - first)
    length = stop - start
    block = _bits(chunk, width, start - 8 * first, stop - 8 * first)
    pad = (-(length + 80)) % 8
    value = ((((block << 48) | _EOS_MAGIC) << 32 | crc) << pad) & ((1 << (length + 80 + pad)) - 1)
    return _BZ_MAGIC + level + value.to_bytes((length + 80 + pad) // 8, "big")


def _decompress_piece(piece: bytes, limit: int) -> bytes:
    dec = bz2.BZ2Decompressor()
    try:
        out = dec.decompress(piece, max_length=limit + 1)
    except (OSError, ValueError, EOFError) as exc:
        raise _Irregular(f"piece rejected ({exc})") from None
    if len(out) > limit or not dec.eof or dec.unused_data:
        raise _Irregular("piece did not decompress to exactly one stream within the cap")
    return out


def _blocks(data: bytes, layout: BlockLayout, threads: int, max_decompressed: int) -> Iterator[bytes]:
    """The decompressed blocks of ``data`` (laid out as ``layout``, from :func:`find_blocks`), in
    order, while later blocks are decompressed on ``threads`` threads: a consumer can work on
    block i while blocks i + 1 .. i + 2 * ``threads`` are being decompressed.

    Raises :class:`_Irregular`, possibly after some blocks were yielded, when libbzip2 rejects a
    block or the output passes ``max_decompressed``. Closing the iterator early cancels the
    pending blocks.
    """
    bounds = [*layout.starts, layout.end]
    n = len(layout.starts)
    total = 0
    window = 2 * max(1, threads)
    with cf.ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="bz2par") as pool:
        futures: list[cf.Future[bytes]] = []
        nxt = 0
        done = 0
        try:
            while done < n:
                while nxt < n and len(futures) < window:  # pieces cut lazily: memory ~ one window
                    piece = _piece(data, layout.level, bounds[nxt], bounds[nxt + 1], layout.crcs[nxt])
                    futures.append(pool.submit(_decompress_piece, piece, max_decompressed - total))
                    nxt += 1
                part = futures.pop(0).result()
                done += 1
                total += len(part)
                if total > max_decompressed:
                    raise _Irregular("size cap exceeded")
                yield part
        finally:
            for f in futures:
                f.cancel()


def decompress(
    data: bytes, *, threads: int, max_decompressed: int = DEFAULT_MAX_DECOMPRESSED, min_blocks: int = 2
) -> bytes:
    """Decompress a complete bzip2 file, its blocks on ``threads`` threads.

    The output, and every error (ValueError with the messages of :func:`bunzip`), are those of
    :func:`bunzip`, which is used instead whenever ``threads`` < 2, the file has fewer than
    ``min_blocks`` blocks, or anything about the file is irregular.
    """
    if threads < 2:
        return bunzip(data, max_decompressed)
    try:
        layout = find_blocks(data)
        if len(layout) < max(2, min_blocks):
            raise _Irregular("too few blocks to gain from threads")
        return b"".join(_blocks(data, layout, threads, max_decompressed))
    except (_Irregular, RuntimeError):  # RuntimeError: no threads to be had (interpreter shutdown)
        return bunzip(data, max_decompressed)
