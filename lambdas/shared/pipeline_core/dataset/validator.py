"""Streams dataset files record by record and checks them against the base model's format, quotas and quality rules.

One pass over each file (sometimes two for duplicates, below); memory holds one line, 16-byte digests for
duplicate/leakage detection and a few integers a record for statistics and splitting, never the records themselves.

Duplicates in two passes. Near-exact duplicates, contradictions and leakage compare prompts after normalisation
(case-folded, ASCII whitespace and punctuation deleted), and normalising every character of a dataset costs more than
parsing it. So, unless the file is to be split (the split's keys are digests of whole normalised prompts), the first
pass keys each prompt by a sketch: a hash of the first and last SKETCH_BYTES of each normalised part
(quality.prompt_sketch), which equal prompts always share. A record whose sketch no other record has cannot be a
duplicate, a contradiction or a leak. If some sketches collide, a second pass re-reads only those records and checks
them exactly as a single pass would; records that share both ends of every prompt part but differ in the middle pass
it. The findings, their order and the report are those of a single pass (the tests compare the two).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from pipeline_core.dataset.formats import Conversation, check_record, clean_claude, dialect
from pipeline_core.dataset.lines import DEFAULT_MAX_LINE_BYTES, LineReader, RawLine, SourceChangedError
from pipeline_core.dataset.quality import (
    conversation_digests,
    digest,
    ends,
    find_sensitive,
    may_hold_sensitive,
    normalise,
    prompt_sketch,
)
from pipeline_core.dataset.report import SPLITS, CostEstimate, FileSummary, FindingLog, Report, TokenStats
from pipeline_core.dataset.rules import Severity
from pipeline_core.dataset.sniff import Head, diagnose
from pipeline_core.dataset.split import TEST, TRAIN, VALIDATION, SplitConfig, SplitPlan, plan_split, split_key
from pipeline_core.models import DataFormat, get_base_model

BOM = b"\xef\xbb\xbf"
NEAR_LIMIT_RATIO = 0.95  # a record within 5% of the token limit gets a warning
MIN_ANSWER_CHARS = 3  # answers shorter than this (after trimming) are reported as very short
# Records checked per run. Duplicate/leakage detection keeps ~200 bytes per record in two dicts, so this bounds
# them to ~80 MB whatever the input; records past it are counted, not checked, and the dataset is invalid
# (QUALITY-INDEX-FULL is an error: an unchecked record must never reach a snapshot). An upload far over every
# quota (Nova's 20,000 records is the largest) thus ends with findings in seconds instead of a Lambda timeout.
DEFAULT_INDEX_LIMIT = 200_000
POOL = "pool"  # the single file that will be split

Progress = Callable[[str, int, int], None]  # (file name, lines read, bytes read)


@dataclass(frozen=True)
class DatasetFile:
    """One input file: which split it feeds, a display name for findings, and a way to (re)open it as byte chunks."""

    split: str  # train | validation | test | pool (a single file to split)
    name: str
    open: Callable[[], Iterable[bytes]]


@dataclass(frozen=True)
class ValidationResult:
    """The report plus what writing the validated snapshot needs."""

    report: Report
    files: tuple[DatasetFile, ...]
    source_sha256: dict[str, str]
    plan: SplitPlan | None = None
    pool_keys: array[int] = field(default_factory=lambda: array("Q"))

    @property
    def valid(self) -> bool:
        return self.report.valid


def is_blank(data: bytes) -> bool:
    # The same test as `not data.strip()` (both use ASCII whitespace), without copying the line: isspace() stops at
    # the first other byte.
    return not data or data.isspace()


# The C scanner behind json.loads. A line that is one JSON value from its first to its last character (every
# record as JSON writers emit it) is parsed by one call, without json.loads' two whitespace regexes; any other line,
# and any error, goes through json.loads itself, so results and error messages are json.loads'.
_scan_once: Callable[[str, int], tuple[object, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


# msgspec's JSON decoder reads a line's bytes about twice as fast as json (no decode, a faster string scanner). Where
# both accept a line they give the same value (the tests check), but their limits differ at the edges: msgspec
# refuses NaN, 1e400 and lone surrogates, which json accepts, and accepts a few more levels of nesting. So it serves
# only clean Claude records (the common case, never nested deeply), and every other line, and every line it refuses,
# goes through json.loads, whose values, limits and error messages the findings keep. The Lambda asset is pure
# Python and always takes json's route.
try:
    from msgspec import MsgspecError as _MsgspecError
    from msgspec.json import Decoder as _Decoder

    fast_loads: Callable[[bytes], object] | None = _Decoder().decode
    _FAST_ERRORS: tuple[type[BaseException], ...] = (_MsgspecError, ValueError, RecursionError)
except ImportError:
    fast_loads, _FAST_ERRORS = None, ()


def loads(text: str) -> object:
    """`json.loads(text)`, with a shortcut for a line that starts with "{" and ends where the object ends."""
    if text[:1] == "{":
        try:
            obj, end = _scan_once(text, 0)
        except (ValueError, RecursionError, StopIteration):
            return json.loads(text)  # raises the error json.loads raises
        if end == len(text):
            return obj
    return json.loads(text)


class _Validator:
    def __init__(
        self,
        base_model_id: str,
        *,
        index_limit: int,
        max_line_bytes: int,
        file_digests: bool = True,
        sketch: bool = False,
    ) -> None:
        self.model = get_base_model(base_model_id)
        self.quotas = self.model.quotas
        self.rules = dialect(self.model.model_id)
        self.nova = self.rules.nova
        # Nova: the first record with images and the first with video, as (file, line): a dataset holds one kind.
        self.media_first: dict[str, tuple[str, int]] = {}
        self.cpt = self.model.quotas.chars_per_token
        self.log = FindingLog()
        self.index_limit = index_limit
        self.max_line_bytes = max_line_bytes
        self.file_digests = file_digests
        self.records: dict[bytes, tuple[str, int, int]] = {}  # record digest -> (split, line, hash of the raw line)
        self.prompts: dict[bytes, tuple[bytes, str, int]] = {}  # prompt digest -> (answer digest, split, line)
        self.checked = 0  # records checked so far in this run (up to index_limit)
        self.stats: dict[str, TokenStats] = {s: TokenStats() for s in (*SPLITS, POOL)}
        self.pool_keys: array[int] = array("Q")
        self.seed = 0
        self.not_text: set[str] = set()  # splits with a file that is not UTF-8 text: their record counts mean nothing
        self.claude = self.model.data_format is DataFormat.CLAUDE_MESSAGES
        self.system = ""  # the last system prompt and its normalised bytes: most datasets repeat one in every record
        self.normalised_system = normalise("")
        self.system_ends = ends("")
        # Two-pass duplicate detection (module docstring): the first pass keys prompts by sketch, and `candidates`
        # collects, per file index, the lines whose sketch another record shares; `confirming` is the second pass.
        self.sketch = sketch
        self.sketches: dict[int, tuple[int, int]] = {}  # prompt sketch -> (file index, line) of its first record
        self.candidates: dict[int, set[int]] = {}
        self.confirming = False
        self.file_index = 0

    # --- per file ------------------------------------------------------------------------------------------------
    def scan(self, f: DatasetFile, progress: Progress | None) -> tuple[FileSummary, str]:
        chunks = Head(f.open())
        name, split, log = f.name, f.split, self.log
        not_text = diagnose(chunks.head)
        if not_text is not None:
            # One finding for the file, not one per "line" of an archive or a wide encoding. The rest is read only
            # for the size and digest the report shows.
            log.add("FILE-NOT-UTF8-TEXT", name, None, not_text)
            self.not_text.add(split)
            size, sha = 0, hashlib.sha256()
            for chunk in chunks:
                size += len(chunk)
                sha.update(chunk)
            return FileSummary(split, name, size, 0, 0, sha.hexdigest()), sha.hexdigest()
        reader = LineReader(chunks, max_line_bytes=self.max_line_bytes, hash_behind=True, digest=self.file_digests)
        lines = records = crlf = 0
        first_crlf: int | None = None
        seen_content = array_mode = False
        index = self.file_index
        for raw in reader:
            lines = raw.number
            log.position = (index, lines, 0)
            if progress is not None and lines % 10_000 == 0:
                progress(name, lines, reader.bytes_read)
            if array_mode:
                continue
            if raw.too_long:
                log.add("FILE-LINE-TOO-LONG", name, raw.number, f"line of {raw.size:,} bytes skipped")
                self._count(split, 0, raw, None)
                records += 1
                continue
            data = raw.data
            if raw.crlf:
                crlf += 1
                first_crlf = first_crlf or raw.number
            if raw.number == 1 and data.startswith(BOM):
                log.add("FILE-BOM", name, 1, "the file starts with a UTF-8 byte order mark (EF BB BF)")
                data = data[len(BOM) :]
            if is_blank(data):
                log.add("FILE-BLANK-LINE", name, raw.number, "blank line")
                continue
            records += 1
            if self.checked >= self.index_limit:
                self._count_only(data, raw, split, name)
                continue
            self.checked += 1
            if seen_content and self.claude and fast_loads is not None:
                try:
                    obj = fast_loads(data)
                except _FAST_ERRORS:
                    obj = None  # json.loads, below, accepts it (NaN, a lone surrogate...) or says what is wrong
                conv = clean_claude(obj) if type(obj) is dict else None
                if conv is not None:
                    self._conversation(conv, data, raw, split, name)
                    continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                log.add(
                    "FILE-INVALID-UTF8",
                    name,
                    raw.number,
                    f"byte 0x{data[exc.start]:02X} at byte {exc.start + 1} of the line is not valid UTF-8",
                )
                self._count(split, math.ceil(len(data) / self.cpt), raw, digest(data))
                continue
            if not seen_content:
                seen_content = True
                if text.lstrip().startswith("["):
                    log.add("FILE-JSON-ARRAY", name, raw.number, "the file is a JSON array, not JSON Lines")
                    array_mode = True
                    records = 0
                    continue
            self._line(text, data, raw, split, name)
        log.position = (index, math.inf, 0)
        if crlf:
            log.add("FILE-CRLF", name, first_crlf, f"{crlf:,} line(s) end with CRLF (first at line {first_crlf})")
        if records == 0 and not array_mode:
            log.add("FILE-EMPTY", name, None, "the file has no records" if lines else "the file is empty (0 bytes)")
        summary = FileSummary(split, name, reader.bytes_read, lines, records, reader.sha256)
        return summary, reader.sha256

    def _count_only(self, data: bytes, raw: RawLine, split: str, name: str) -> None:
        """Past the check limit: count the record (bytes / chars-per-token as its size) and check nothing."""
        if self.checked == self.index_limit:
            self.checked += 1  # report once
            self.log.add(
                "QUALITY-INDEX-FULL",
                name,
                raw.number,
                f"checked {self.index_limit:,} records; this one and the rest are counted, not checked",
            )
        self._count(split, math.ceil(len(data) / self.cpt), raw, None)

    def _line(self, text: str, data: bytes, raw: RawLine, split: str, name: str) -> None:
        try:
            obj = loads(text)
        except (ValueError, RecursionError) as exc:
            if not raw.terminated:
                self.log.add("FILE-TRUNCATED-LAST-LINE", name, raw.number, "the last line has no newline and is "
                             f"not valid JSON ({_json_error(exc)})")  # fmt: skip
            else:
                self.log.add("JSON-INVALID", name, raw.number, _json_error(exc))
            self._count(split, math.ceil(len(text) / self.cpt), raw, digest(data))
            return
        # A clean Claude record (the common case) needs only the fast path's few tests; anything else gets the full
        # check, which reports every issue (check_record takes the same route).
        conv = clean_claude(obj) if self.claude and type(obj) is dict else None
        if conv is not None:
            self._conversation(conv, data, raw, split, name)
            return
        issues, conv = check_record(obj, self.model.data_format, rules=self.rules)
        for rule_id, message in issues:
            self.log.add(rule_id, name, raw.number, message)
        if conv is None:
            self._count(split, math.ceil(len(text) / self.cpt), raw, digest(data))
            return
        self._conversation(conv, data, raw, split, name)

    def confirm(self, f: DatasetFile, lines: set[int], first: FileSummary, progress: Progress | None) -> None:
        """The second pass over one file: the exact duplicate, contradiction and leakage checks for `lines`.

        Raises SourceChangedError when the file no longer has the records, the size or (when the first pass took
        it) the SHA-256 it had in the first pass. A same-size edit is caught only through the SHA-256 or by the
        file's opener (the CLI compares the file's modification time, the Lambda reads the same S3 object version).
        """
        reader = LineReader(f.open(), max_line_bytes=self.max_line_bytes, digest=bool(first.sha256))
        name, split, index, log = f.name, f.split, self.file_index, self.log
        self.confirming = True
        left = len(lines)
        for raw in reader:
            if progress is not None and raw.number % 10_000 == 0:
                progress(f"{name} (second pass: {len(lines):,} possible duplicates)", raw.number, reader.bytes_read)
            if raw.number not in lines:
                continue
            data = raw.data[len(BOM) :] if raw.number == 1 and raw.data.startswith(BOM) else raw.data
            log.position = (index, raw.number, 1)  # where a single pass puts them (_conversation)
            conv = None
            # check_record takes clean_claude's fast route first, as the first pass did. UnicodeDecodeError is a
            # ValueError.
            with contextlib.suppress(ValueError, RecursionError):
                conv = check_record(loads(data.decode("utf-8")), self.model.data_format, rules=self.rules)[1]
            if conv is None:  # the first pass read a record here
                raise SourceChangedError(f"{name} changed while it was being validated (line {raw.number}); try again")
            self._conversation(conv, data, raw, split, name)
            left -= 1
        self.confirming = False
        if left:
            raise SourceChangedError(f"{name} changed while it was being validated ({left:,} record(s) missing); "
                                     "try again")  # fmt: skip
        if reader.bytes_read != first.bytes or reader.sha256 != first.sha256:
            raise SourceChangedError(f"{name} changed while it was being validated ({reader.bytes_read:,} bytes, "
                                     f"{first.bytes:,} before); try again")  # fmt: skip

    def _conversation(self, conv: Conversation, data: bytes, raw: RawLine, split: str, name: str) -> None:
        log, line = self.log, raw.number
        system, turns = conv.system, conv.turns
        if self.confirming:
            exact, answer = conversation_digests(system, turns)
            self._index(exact + answer, exact, answer, hash(data), split, name, line)
            return
        characters = len(system) + conv.reasoning_chars
        for _, text in turns:
            characters += len(text)
        tokens = math.ceil(characters / self.cpt)  # Conversation.characters, without a generator per record
        limit = self.quotas.max_tokens_per_record
        if tokens > limit:
            log.add("QUOTA-MAX-TOKENS", name, line, f"about {tokens:,} tokens (estimated), over the limit of {limit:,}")
        elif tokens >= NEAR_LIMIT_RATIO * limit:
            log.add(
                "QUOTA-NEAR-MAX-TOKENS", name, line, f"about {tokens:,} tokens (estimated), near the {limit:,} limit"
            )
        if conv.images or conv.videos:
            log.add("SCHEMA-MEDIA-UNCHECKED", name, line, "image/video blocks are not checked and not counted")
            self._media_kind(conv, name, line)

        # Quality: digests of normalised text; the prompt is everything but the final answer. The two digests side
        # by side key the record: hashing them again would only shorten the key. With sketches, the exact check's
        # findings come from a second pass, at position 1 of this line: after the findings above (position 0),
        # before the ones below (2), as in one pass.
        if system != self.system:
            self.system = system
            if self.sketch:
                self.system_ends = ends(system)
            else:
                self.normalised_system = normalise(system)
        prompt = None
        if self.sketch:
            self._sketch(prompt_sketch(self.system_ends, turns), line)
            log.position = (self.file_index, line, 2)
        else:
            prompt, answer = conversation_digests(system, turns, self.normalised_system)
            # The exact-duplicate label only needs a within-process fingerprint: the built-in (SipHash) hash will do.
            self._index(prompt + answer, prompt, answer, hash(data), split, name, line)
        answer_text = turns[-1][1]
        # len(strip()) without copying the answer when it neither starts nor ends with whitespace (the usual case).
        if answer_text[:1].isspace() or answer_text[-1:].isspace():
            answer_chars = len(answer_text.strip())
        else:
            answer_chars = len(answer_text)
        if answer_chars < MIN_ANSWER_CHARS:
            log.add("QUALITY-SHORT-ANSWER", name, line, f"the answer is {answer_chars} character(s) long")
        # The secret/PII prefilter reads the raw line once, not each text; the full scan is the rare path. A line with
        # \uXXXX escapes (which may hide a digit or an "@") is tested text by text.
        if b"\\" in data and b"\\u" in data:
            texts = (system, *(text for _, text in turns))
            suspect = any(may_hold_sensitive(text.encode("utf-8", "surrogatepass")) for text in texts)
        else:
            suspect = may_hold_sensitive(data)
        if suspect:
            self._sensitive(conv, name, line)
        self._count(split, tokens, raw, prompt)

    def _sketch(self, key: int, line: int) -> None:
        first = self.sketches.get(key)
        if first is None:
            self.sketches[key] = (self.file_index, line)  # at most index_limit entries: one per checked record
            return
        self.candidates.setdefault(first[0], set()).add(first[1])
        self.candidates.setdefault(self.file_index, set()).add(line)

    def _media_kind(self, conv: Conversation, name: str, line: int) -> None:
        """Nova: a dataset is text with images or text with video, never both [NOVA_PREP, NOVA2_SFT]."""
        kind, other = ("video", "images") if conv.videos else ("images", "video")
        first = self.media_first.get(other)
        if first is not None:
            self.log.add(
                "SCHEMA-MEDIA-MIXED",
                name,
                line,
                f"this record has {kind}, {first[0]} line {first[1]} has {other}: a dataset holds one media kind",
            )
        self.media_first.setdefault(kind, (name, line))

    def _index(self, record: bytes, prompt: bytes, answer: bytes, exact: int, split: str, name: str, line: int) -> None:
        log = self.log
        seen = self.records.get(record)
        if seen is None:
            self.records[record] = (split, line, exact)
        elif seen[0] == split:
            how = "exact" if seen[2] == exact else "near-exact (differs only in case, whitespace or punctuation)"
            log.add("QUALITY-DUPLICATE", name, line, f"{how} duplicate of line {seen[1]}")
        first = self.prompts.get(prompt)
        if first is None:
            self.prompts[prompt] = (answer, split, line)  # at most index_limit entries: one per checked record
            return
        if first[1] != split and TRAIN in (first[1], split):
            log.add("QUALITY-LEAKAGE", name, line, f"the same prompt is in {first[1]} (line {first[2]}) and {split}")
        if first[0] != answer:
            log.add(
                "QUALITY-CONTRADICTION",
                name,
                line,
                f"the same prompt as {first[1]} line {first[2]} has a different answer",
            )

    def _sensitive(self, conv: Conversation, name: str, line: int) -> None:
        found: dict[tuple[str, str], list[str]] = {}
        for text in (conv.system, *(t for _, t in conv.turns)):
            for hit in find_sensitive(text):
                found.setdefault((hit.rule_id, hit.kind), []).append(hit.masked)
        for (rule_id, kind), values in found.items():
            more = f" (and {len(values) - 1} more)" if len(values) > 1 else ""
            self.log.add(rule_id, name, line, f"{kind} {values[0]}{more}")

    def _count(self, split: str, tokens: int, raw: RawLine, prompt: bytes | None) -> None:
        # Count the snapshot's bytes (the record re-terminated with "\n"), not the upload's (maybe CRLF).
        self.stats[split].add(tokens, raw.size if raw.too_long else len(raw.data) + 1)
        if split == POOL:
            self.pool_keys.append(split_key(self.seed, prompt or b""))

    # --- dataset level -----------------------------------------------------------------------------------------
    def split_pool(self, config: SplitConfig) -> SplitPlan:
        plan = plan_split(
            self.pool_keys,
            config,
            max_validation=self.quotas.max_validation_records,
            min_train=self.quotas.min_records,
        )
        pool = self.stats.pop(POOL)
        for key, tokens in zip(self.pool_keys, pool.tokens, strict=True):
            self.stats[plan.assign(key)].tokens.append(tokens)
        # Bytes per split are not tracked per record; apportion by record share for the file-size quota (the
        # snapshot's exact sizes are known once written). A single file within the train-file quota is checked too.
        for split in SPLITS:
            n = plan.counts[split]
            self.stats[split].size_bytes = round(pool.size_bytes * n / max(1, len(self.pool_keys)))
        if plan.adjusted:
            self.log.add(
                "SPLIT-ADJUSTED",
                "(split)",
                None,
                f"requested {plan.requested}, planned {plan.counts} "
                f"(max {self.quotas.max_validation_records:,} validation, min {self.quotas.min_records:,} train)",
            )
        return plan

    def quota_checks(self, names: dict[str, str]) -> None:
        q, log = self.quotas, self.log
        n = {s: len(self.stats[s].tokens) for s in SPLITS}
        train, validation = names.get(TRAIN, TRAIN), names.get(VALIDATION, VALIDATION)
        # A training file that is not text has no countable records: FILE-NOT-UTF8-TEXT says why, "0 records" would
        # not. (Its 0 records and 0 bytes never exceed a maximum, so the other checks need no such guard.)
        train_unread = bool(self.not_text & {TRAIN, POOL})
        if not train_unread and n[TRAIN] < q.min_records:
            log.add(
                "QUOTA-MIN-RECORDS", train, None, f"{n[TRAIN]:,} training records; the minimum is {q.min_records:,}"
            )
        if n[TRAIN] > q.max_train_records:
            log.add(
                "QUOTA-MAX-TRAIN-RECORDS",
                train,
                None,
                f"{n[TRAIN]:,} training records; the maximum is {q.max_train_records:,}",
            )
        if n[VALIDATION] > q.max_validation_records:
            log.add(
                "QUOTA-MAX-VALIDATION-RECORDS",
                validation,
                None,
                f"{n[VALIDATION]:,} validation records; the maximum is {q.max_validation_records:,}",
            )
        if n[TRAIN] + n[VALIDATION] > q.max_total_records:
            log.add(
                "QUOTA-MAX-TOTAL-RECORDS",
                train,
                None,
                f"{n[TRAIN] + n[VALIDATION]:,} training + validation records; the maximum is {q.max_total_records:,}",
            )
        for split, limit, file in (
            (TRAIN, q.max_train_file_bytes, train),
            (VALIDATION, q.max_validation_file_bytes, validation),
        ):
            size = self.stats[split].size_bytes
            if size > limit:
                log.add("QUOTA-FILE-SIZE", file, None, f"{split} data is {size:,} bytes; the maximum is {limit:,}")


def _json_error(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON at column {exc.colno}: {exc.msg}"
    if isinstance(exc, RecursionError):
        return "invalid JSON: nested too deeply"
    return f"invalid JSON: {exc}"


def validate(
    files: Sequence[DatasetFile],
    *,
    base_model_id: str,
    split: SplitConfig | None = None,
    epochs: int | None = None,
    price_per_1k_training_tokens: float | None = None,
    progress: Progress | None = None,
    index_limit: int = DEFAULT_INDEX_LIMIT,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    file_digests: bool = True,
    two_pass: bool = True,
) -> ValidationResult:
    """Validate the files for `base_model_id`.

    Pass either one file per split (train, optional validation and test), or one file with split="pool" and a
    `SplitConfig` to plan a split. Files are read in train, validation, test order so leakage is found in the
    later splits. Raises UnsupportedModelError for an unknown model and ValueError for an inconsistent file set.
    `file_digests=False` skips each file's SHA-256 (the report's `sha256` is then ""): for a caller that neither
    shows the digests nor writes a snapshot, which needs them to detect a source that changed. No rule uses them.
    `two_pass` finds duplicates in two passes (module docstring) unless the file is split; False normalises every
    prompt in one pass. The result is the same; the second pass may raise SourceChangedError.
    """
    if not file_digests and split is not None:
        raise ValueError("a split needs the file digests: the snapshot checks its source against them")
    v = _Validator(
        base_model_id,
        index_limit=index_limit,
        max_line_bytes=max_line_bytes,
        file_digests=file_digests,
        sketch=two_pass and split is None,
    )
    pools = [f for f in files if f.split == POOL]
    if pools and (len(files) != 1 or split is None):
        raise ValueError("a file to split must be the only file, and needs a SplitConfig")
    if not any(f.split in (TRAIN, POOL) for f in files):
        raise ValueError("a training file is required")
    order = {TRAIN: 0, POOL: 0, VALIDATION: 1, TEST: 2}
    ordered = tuple(sorted(files, key=lambda f: order[f.split]))
    if split is not None:
        v.seed = split.seed
    summaries: list[FileSummary] = []
    shas: dict[str, str] = {}
    for v.file_index, f in enumerate(ordered):
        summary, sha = v.scan(f, progress)
        summaries.append(summary)
        shas[f.name] = sha
    if v.candidates:
        for v.file_index, f in enumerate(ordered):
            if v.file_index in v.candidates:
                v.confirm(f, v.candidates[v.file_index], summaries[v.file_index], progress)
        v.log.sort_by_position()
    v.log.position = (math.inf, math.inf, 0)
    plan = v.split_pool(split) if pools and split is not None else None
    names = {TRAIN: ordered[0].name, **{f.split: f.name for f in ordered if f.split != POOL}}
    v.quota_checks(names)
    model = v.model
    if epochs is None:
        epochs = int(model.hyperparameter("epochCount").default)
    stats = {s: v.stats[s].summary() for s in SPLITS}
    cost = None
    if price_per_1k_training_tokens is not None:
        cost = CostEstimate(stats[TRAIN]["total_tokens"], epochs, price_per_1k_training_tokens)
    split_info = None
    if plan is not None:
        split_info = {
            "seed": plan.config.seed,
            "validation_share": plan.config.validation_share,
            "test_share": plan.config.test_share,
            "requested": plan.requested,
            "planned": plan.counts,
        }
    log = v.log
    report = Report(
        base_model_id=model.model_id,
        data_format=model.data_format.value,
        chars_per_token=v.cpt,
        files=tuple(summaries),
        stats=stats,
        findings=tuple(log.listed),
        per_rule=dict(sorted(log.per_rule.items())),
        omitted=log.omitted(),
        errors=log.count(Severity.ERROR),
        warnings=log.count(Severity.WARNING),
        infos=log.count(Severity.INFO),
        cost=cost,
        split=split_info,
        lines_per_rule=dict(sorted(log.lines_per_rule.items())),
    )
    return ValidationResult(report, ordered, shas, plan, v.pool_keys)
