"""Recognises, from its first bytes, a file that is not UTF-8 text: an archive, a binary file, UTF-16 or UTF-32.

Such a file would otherwise be read line by line and produce a finding on every "line" of garbage; one look at
its signature gives one clear diagnosis instead. A UTF-8 byte order mark is not diagnosed here: the file is still
UTF-8, and the FILE-BOM rule reports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

SNIFF_BYTES = 4096  # the first block: enough for every signature and for a fair sample of a text encoding
# Without a byte order mark, UTF-16/UTF-32 show as a NUL in each code unit of an ASCII character. JSON's own
# syntax ({"":,}) is ASCII, so even text in a non-Latin script has at least this share of such units.
WIDE_TEXT_MIN_SHARE = 0.25

# Signatures at offset 0. Sources: RFC 1952 section 2.3.1 (gzip), PKWARE APPNOTE.TXT section 4.3.7 and 4.3.16 (zip
# local file header, end of an empty archive), bzip2/xz/zstd format descriptions; Unicode FAQ "UTF-8, UTF-16,
# UTF-32 & BOM" (byte order marks).
_ARCHIVES: tuple[tuple[bytes, str, str], ...] = (
    (b"\x1f\x8b", "a gzip archive", "decompress it first (gunzip -k FILE)"),
    (b"PK\x03\x04", "a zip archive", "extract the JSON Lines file from it first (unzip FILE)"),
    (b"PK\x05\x06", "an empty zip archive", "extract the JSON Lines file from it first (unzip FILE)"),
    (b"BZh", "a bzip2 archive", "decompress it first (bunzip2 -k FILE)"),
    (b"\xfd7zXZ\x00", "an xz archive", "decompress it first (unxz -k FILE)"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive", "decompress it first (unzstd FILE)"),
)
# UTF-32 first: its little-endian mark starts with UTF-16's.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xfe\x00\x00", "UTF-32LE"),
    (b"\x00\x00\xfe\xff", "UTF-32BE"),
    (b"\xff\xfe", "UTF-16LE"),
    (b"\xfe\xff", "UTF-16BE"),
)


def _hex(data: bytes) -> str:
    return " ".join(f"{b:02X}" for b in data)


def _wide(encoding: str, how: str, *, bom: bool) -> str:
    # With a byte order mark, iconv must be given the plain name so it reads the mark instead of copying it.
    source = encoding[:-2] if bom else encoding
    return f"the file is {encoding} text ({how}), not UTF-8; re-encode it (iconv -f {source} -t UTF-8 FILE > OUT.jsonl)"


def _share(units: list[bytes], matches: int) -> bool:
    return bool(units) and matches >= WIDE_TEXT_MIN_SHARE * len(units)


def _wide_without_bom(head: bytes) -> str | None:
    quads = [head[i : i + 4] for i in range(0, len(head) - 3, 4)]
    pairs = [head[i : i + 2] for i in range(0, len(head) - 1, 2)]
    how = "no byte order mark; every {}-byte unit of an ASCII character holds NUL bytes"
    if _share(quads, sum(q[0] != 0 and q[1:] == b"\0\0\0" for q in quads)):
        return _wide("UTF-32LE", how.format(4), bom=False)
    if _share(quads, sum(q[:3] == b"\0\0\0" and q[3] != 0 for q in quads)):
        return _wide("UTF-32BE", how.format(4), bom=False)
    if _share(pairs, sum(p[0] != 0 and p[1] == 0 for p in pairs)):
        return _wide("UTF-16LE", how.format(2), bom=False)
    if _share(pairs, sum(p[0] == 0 and p[1] != 0 for p in pairs)):
        return _wide("UTF-16BE", how.format(2), bom=False)
    return None


def diagnose(head: bytes, file: str = "FILE") -> str | None:
    """One sentence saying what kind of non-UTF-8 file starts with `head`, or None for a plausible UTF-8 text.

    `head` is the file's first bytes (up to SNIFF_BYTES are looked at). The sentence ends with the command that
    fixes the file, naming it `file` (a placeholder unless the caller has a local path).
    """
    found = _diagnose(head[:SNIFF_BYTES])
    return None if found is None else found.replace("FILE", file)


def _diagnose(head: bytes) -> str | None:
    for signature, what, fix in _ARCHIVES:
        if head.startswith(signature):
            return f"the file is {what} (it starts with {_hex(signature)}), not JSON Lines text; {fix}"
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return _wide(encoding, f"byte order mark {_hex(bom)}", bom=True)
    if b"\0" not in head:
        return None
    wide = _wide_without_bom(head)
    if wide is not None:
        return wide
    return (
        f"the file is binary, not JSON Lines text: byte {head.index(0) + 1:,} is a NUL byte (00), which UTF-8 "
        "JSON text never holds; check that this is the right file"
    )


class Head:
    """Wraps byte chunks so the first SNIFF_BYTES can be examined before every chunk is passed on unchanged."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffered: list[bytes] = []
        size = 0
        for chunk in self._chunks:
            self._buffered.append(chunk)
            size += len(chunk)
            if size >= SNIFF_BYTES:
                break
        self.head = b"".join(self._buffered)[:SNIFF_BYTES]

    def __iter__(self) -> Iterator[bytes]:
        buffered, self._buffered = self._buffered, []
        yield from buffered
        yield from self._chunks
