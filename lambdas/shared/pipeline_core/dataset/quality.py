"""Quality helpers Bedrock does not provide: text normalisation, compact digests, and secret/personal-data detection.

Digests, not records, are what the validator keeps in memory: 16-byte BLAKE2b digests of normalised text.
Detected values are masked before they reach a report, so a report never repeats a secret in full.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple

try:  # SIMD byte translation and substring search for the secret prefilter; same answers as bytes' own methods
    import stringzilla as _sz
except ImportError:  # the Lambda asset is pure Python: bytes.translate and `in` (tests run both)
    _sz = None

DIGEST_SIZE = 16
# Normalisation deletes ASCII whitespace and punctuation after case folding.
_DELETE = (string.punctuation + string.whitespace).encode("ascii")
# For ASCII text, case folding is A-Z -> a-z: one bytes.translate both lowers and deletes.
_ASCII_LOWER = bytes(range(65)) + bytes(range(97, 123)) + bytes(range(91, 256))


def fold(text: str) -> bytes:
    """Case-folded UTF-8 bytes of `text` (surrogates kept, so any JSON string can be folded)."""
    return text.casefold().encode("utf-8", "surrogatepass")


def normalise(text: str) -> bytes:
    """Case-fold and drop ASCII whitespace and punctuation, so "Hello,  World!" and "hello world" compare equal.

    It runs over every character of the dataset. ASCII text (str.isascii is a flag check) takes two C-level passes,
    encode and one translate; other text is case-folded first, with the same result for the ASCII characters.
    """
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_LOWER, _DELETE)
    return fold(text).translate(None, _DELETE)


def digest(*parts: bytes) -> bytes:
    """A 16-byte BLAKE2b digest of the parts, separated so ("ab", "c") and ("a", "bc") differ."""
    h = hashlib.blake2b(digest_size=DIGEST_SIZE)
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.digest()


_ROLE_PREFIX = {"user": b"user:", "assistant": b"assistant:"}


def conversation_digests(
    system: str, turns: Sequence[tuple[str, str]], normalised_system: bytes | None = None
) -> tuple[bytes, bytes]:
    """Digests of the normalised prompt (system and every turn but the last) and of the normalised answer.

    The same bytes as `digest(normalise(system), b"user:" + normalise(turn), ...)` and `digest(normalise(answer))`,
    without copying each normalised turn again to prefix its role: BLAKE2b is fed the pieces in order.
    `normalised_system`, when given, is `normalise(system)` already computed (most datasets repeat one system
    prompt in every record, so the validator normalises it once).
    """
    h = hashlib.blake2b(digest_size=DIGEST_SIZE)
    update = h.update
    part = normalise(system) if normalised_system is None else normalised_system
    update(len(part).to_bytes(8, "little"))
    update(part)
    for role, text in turns[:-1]:
        part = normalise(text)
        prefix = _ROLE_PREFIX.get(role) or role.encode() + b":"
        update((len(prefix) + len(part)).to_bytes(8, "little"))
        update(prefix)
        update(part)
    part = normalise(turns[-1][1])
    answer = hashlib.blake2b(len(part).to_bytes(8, "little"), digest_size=DIGEST_SIZE)
    answer.update(part)
    return h.digest(), answer.digest()


# Sketches: the validator's first pass keys each prompt by a bounded piece of its normalised text instead of all of
# it, and normalises in full only the records whose sketches collide (validator.py, "Duplicates in two passes").
SKETCH_BYTES = 64  # normalised bytes kept from each end of a text: about ten words
_SKETCH_WINDOW = 4 * SKETCH_BYTES  # characters normalised at a time to find them (usually once: text is mostly words)


def ends(text: str) -> bytes:
    """`n` if it is at most 2 x SKETCH_BYTES long, else its first and last SKETCH_BYTES, where n = normalise(text).

    A function of normalise(text) alone, so equal normalised texts have equal ends, but it reads only about
    2 x _SKETCH_WINDOW characters of a long text: normalisation maps each character on its own (translate and
    casefold are per character), so normalise(text[:k]) is a prefix of normalise(text) and normalise(text[-k:])
    a suffix. A window that gives fewer than SKETCH_BYTES (a text of mostly spaces and punctuation) doubles.
    """
    size = len(text)
    k = _SKETCH_WINDOW
    while True:
        if 2 * k >= size:  # the windows meet: the text is short enough to normalise whole
            whole = normalise(text)
            return whole if len(whole) <= 2 * SKETCH_BYTES else whole[:SKETCH_BYTES] + whole[-SKETCH_BYTES:]
        head, tail = normalise(text[:k]), normalise(text[-k:])
        if len(head) >= SKETCH_BYTES and len(tail) >= SKETCH_BYTES:
            # Disjoint windows: normalise(text) = head + middle + tail, at least 2 x SKETCH_BYTES long.
            return head[:SKETCH_BYTES] + tail[-SKETCH_BYTES:]
        k *= 2


def prompt_sketch(system_ends: bytes, turns: Sequence[tuple[str, str]]) -> int:
    """A key of the prompt's ends (system and every turn but the last, with their roles) that equal prompts share.

    `system_ends` is `ends(system)`. Two records with the same normalised prompt always have the same sketch, so
    different sketches prove different prompts. Equal sketches prove nothing (a 64-bit hash may collide, and ends
    may agree while the middles differ): they only send both records to the exact check, so a collision costs
    time, never a finding, and the built-in hash is enough.
    """
    if len(turns) == 2:  # one user turn and the answer: most records
        return hash((system_ends, turns[0][0], ends(turns[0][1])))
    return hash((system_ends, *((role, ends(text)) for role, text in turns[:-1])))


class Sensitive(NamedTuple):
    """One detected secret or personal-data value, already masked."""

    rule_id: str  # QUALITY-SECRET or QUALITY-PII
    kind: str
    masked: str


def mask(value: str, keep: int = 4) -> str:
    """Keep only the last `keep` characters (fewer for short values), so findings can be matched but not reused."""
    keep = min(keep, len(value) // 4)
    return "*" * (len(value) - keep) + (value[-keep:] if keep else "")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum that payment card numbers satisfy (ISO/IEC 7812-1)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# AWS access key ids: 20 characters, "AKIA" (long-term) or "ASIA" (temporary) prefix.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids
_AWS_KEY = r"(?P<aws_key>\b(?:AKIA|ASIA)[A-Z0-9]{16}\b)"
_PRIVATE_KEY = r"(?P<private_key>-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----)"
_PRIVATE_KEY_END = re.compile(r"-----END (?:[A-Z]+ )?PRIVATE KEY-----")
_EMAIL = r"(?P<email>\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b)"
# US SSN: area 001-899 except 666, group 01-99, serial 0001-9999, written with dashes (bare 9-digit runs are too noisy).
_SSN = r"(?P<ssn>\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b)"
# Card numbers: 13-19 digits, optionally grouped by single spaces or dashes; confirmed by the Luhn check.
_CARD = r"(?P<card>(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-]))"
# Phone numbers: E.164 (+ and 8-15 digits) or North American (NXX) NXX-XXXX.
_PHONE = (
    r"(?P<phone>(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[.-])\d{3}[.-]\d{4}(?!\d)"
    r"|(?<![\w+])\+\d{8,15}(?!\d))"
)
_SCAN = re.compile("|".join((_AWS_KEY, _PRIVATE_KEY, _EMAIL, _SSN, _CARD, _PHONE)))

# Prefilter. Python's regex engine reads digit-rich text at only ~60 MB/s, so the full scan runs only on texts that
# hold a candidate "shape": digits mapped to "0", the separators -.()+ and space kept, all else mapped to "x"; a
# C-level bytes.find then looks for the shapes below. Every phone and SSN the patterns accept contains one of them,
# as do card numbers written as 13+ digits or in 4-4-4 / 4-6-5 groups (other groupings are not detected).
_SHAPE_TABLE = (
    bytes(ord("0") if chr(b).isdigit() else b if chr(b) in "-.()+ " else ord("x") for b in range(128)) + b"x" * 128
)
_SHAPES = (
    b"000-00-0000",  # SSN
    b"000-0000",  # North American phone, last groups
    b"000.0000",
    b"+00000000",  # E.164
    b"0000000000000",  # 13+ digit card number
    b"0000 0000 0000 0",
    b"0000-0000-0000-0",
    b"0000 000000 00000",
    b"0000-000000-00000",
)
_WORD_TRIGGERS = ("@", "AKIA", "ASIA", "PRIVATE KEY")


def needs_scan(text: str) -> bool:
    """Cheap test: could `text` hold any secret or personal data the full scan detects?"""
    if any(trigger in text for trigger in _WORD_TRIGGERS):
        return True
    shape = fold(text).translate(_SHAPE_TABLE)
    return any(candidate in shape for candidate in _SHAPES)


# Line prefilter: one test over a whole raw JSON line (or one text's UTF-8 bytes) that is true whenever `needs_scan`
# is true for any string in it, so a false answer lets the validator skip every text of the record. Each bytes.find
# costs a pass over the line, so the nine shapes are covered by five needles over a coarser shape ("." merged
# into "-"), and the rare bytes "@", "+" and "A" gate the other triggers through memchr. Why it is a superset:
# - every character of a shape and of a word trigger is ASCII and never needs a JSON escape, so unless the line
#   uses \uXXXX escapes (then each text is tested on its own), each occurrence in a text is in the line
#   verbatim: the short escapes (\n, \" ...) stand for characters outside every shape;
# - case folding maps no non-ASCII character to a digit, "-", ".", "+", " " or "@" (checked in the tests), so the
#   shapes of the folded and of the raw text have the same runs of digits and separators;
# - every shape contains one needle: "000-00-0000", "000-0000", "000.0000" and the dashed card groupings contain
#   "00-0000"; the others are needles themselves ("+00000000" behind a "+" gate).
_LINE_SHAPE_TABLE = (
    bytes(
        ord("0") if chr(b).isdigit() else ord("-") if chr(b) in "-." else b if chr(b) in " +" else ord("x")
        for b in range(128)
    )
    + b"x" * 128
)


def record_may_hold_sensitive(line: bytes, texts: Iterable[str]) -> bool:
    """True when `needs_scan` might be true for one of `texts`, the strings of the JSON record `line`.

    The raw line is read once; a line with \\uXXXX escapes (which may hide a digit or an "@") is tested text by text.
    """
    if b"\\" in line and b"\\u" in line:
        return any(may_hold_sensitive(text.encode("utf-8", "surrogatepass")) for text in texts)
    return may_hold_sensitive(line)


def _shape_bytes(data: bytes) -> bytes:
    return data.translate(_LINE_SHAPE_TABLE)


def _shape_sz(data: bytes) -> bytes:
    return _sz.translate(data, _LINE_SHAPE_TABLE)  # type: ignore[no-any-return]


# The prefilter's two primitives. StringZilla's translate and search use SIMD instructions (about 6x and 1.7x
# bytes' own on the benchmark's records); the answers are the same, which the tests check on both.
_shape: Callable[[bytes], bytes] = _shape_bytes if _sz is None else _shape_sz
_contains_sz: Callable[[bytes, bytes], bool] | None = None if _sz is None else _sz.contains
_contains: Callable[[bytes, bytes], bool] = _contains_sz or bytes.__contains__


def may_hold_sensitive(data: bytes) -> bool:
    """True when some string in `data` (UTF-8 without \\u escapes) might need the full scan (see `needs_scan`)."""
    if b"@" in data or (b"A" in data and (b"AKIA" in data or b"ASIA" in data or b"PRIVATE KEY" in data)):
        return True
    shape = _shape(data)
    contains = _contains
    return (
        contains(shape, b"0000000000000")
        or contains(shape, b"0000 0000 0000 0")
        or contains(shape, b"0000 000000 00000")
        or (b"-" in shape and contains(shape, b"00-0000"))
        or (b"+" in shape and contains(shape, b"+00000000"))
    )


def redact_sensitive(text: str, replacement: str = "[redacted]") -> str:
    """`text` with each value `find_sensitive` reports (the whole value, not its mask) replaced by `replacement`.

    A private key is replaced from its BEGIN line through its END line (to the end of `text` when there is none),
    so no part of the key body is left.
    """
    if not needs_scan(text):
        return text

    parts: list[str] = []
    position = 0
    while (match := _SCAN.search(text, position)) is not None:
        value = match.group()
        parts.append(text[position : match.start()])
        position = match.end()
        if match.lastgroup == "card" and not luhn_valid(value.replace(" ", "").replace("-", "")):
            parts.append(value)  # as find_sensitive: a digit run failing the Luhn check is not a card number
            continue
        parts.append(replacement)
        if match.lastgroup == "private_key":
            # The pattern matches only the BEGIN line (find_sensitive shows it on purpose); the key body follows it,
            # so redaction runs through the END line, or to the end of the text when the key was cut off.
            end = _PRIVATE_KEY_END.search(text, position)
            position = len(text) if end is None else end.end()
    parts.append(text[position:])
    return "".join(parts)


def find_sensitive(text: str) -> Iterator[Sensitive]:
    """Yield the masked secrets and personal-data values found in `text`."""
    if not needs_scan(text):
        return
    for match in _SCAN.finditer(text):
        kind = match.lastgroup or ""
        value = match.group()
        if kind == "card":
            digits = value.replace(" ", "").replace("-", "")
            if not luhn_valid(digits):
                continue
            yield Sensitive("QUALITY-PII", "credit card number", mask(digits))
        elif kind == "aws_key":
            yield Sensitive("QUALITY-SECRET", "AWS access key id", value[:4] + mask(value[4:]))
        elif kind == "private_key":
            yield Sensitive("QUALITY-SECRET", "private key", value)  # the header only; the key body is never shown
        elif kind == "email":
            local, _, domain = value.partition("@")
            yield Sensitive("QUALITY-PII", "email address", f"{local[:1]}***@{domain}")
        elif kind == "ssn":
            yield Sensitive("QUALITY-PII", "US social security number", "***-**-" + value[-4:])
        else:
            yield Sensitive("QUALITY-PII", "phone number", mask(value))
