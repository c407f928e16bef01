"""The registry of dataset rules: every finding the validator can emit, with its id, severity, headline and fix.

Rule ids are a public contract (reports, dashboards and docs/dataset-rules.md refer to them): add new ids, never
rename or reuse one. A test checks that every id here is documented in docs/dataset-rules.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Sources cited by the rules below.
PREP = "https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-prepare.html"
CLAUDE_COOKBOOK = "https://platform.claude.com/cookbook/finetuning-finetuning-on-bedrock"
NOVA_PREP = "https://docs.aws.amazon.com/nova/latest/userguide/fine-tune-prepare-data-understanding.html"
NOVA2_PREP = "https://docs.aws.amazon.com/nova/latest/nova2-userguide/nova-data-prep-sft-2.html"
NOVA2_SFT = "https://docs.aws.amazon.com/bedrock/latest/userguide/nova-2-sft-data-prep.html"
# AWS's sample validators, whose checks complete the pages above (read 2026-12-01).
CLAUDE_SAMPLE = (
    "https://github.com/aws-samples/amazon-bedrock-samples/blob/main/custom-models/bedrock-fine-tuning/"
    "claude-haiku/DataValidation/data_validation.py"
)
NOVA_SAMPLE = (
    "https://github.com/aws-samples/amazon-nova-samples/blob/main/customization/bedrock-finetuning/"
    "understanding/dataset_validation/nova_ft_dataset_validator.py"
)
JSONL_SPEC = "https://jsonlines.org/"  # UTF-8, one JSON value per line, "\n" line separator.
RFC8259 = "https://www.rfc-editor.org/rfc/rfc8259#section-8.1"  # JSON text MUST NOT begin with a byte order mark.
PIPELINE = "pipeline quality check (not enforced by Amazon Bedrock)"


class Severity(StrEnum):
    """How much a finding matters: an error makes the dataset invalid; warnings and infos do not."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Rule:
    """One check the validator makes."""

    rule_id: str
    severity: Severity
    checks: str  # what the rule requires, one sentence (the rule tables in the docs)
    found: str  # what a finding of it means, one sentence (the headline over its findings in a report)
    fix: str  # how to fix a finding, one sentence
    source: str  # the AWS page (or other source) the rule rests on


_RULES: tuple[Rule, ...] = (
    # --- File-level faults -------------------------------------------------------------------------------------
    Rule(
        "FILE-EMPTY",
        Severity.ERROR,
        "The file holds at least one record.",
        "The file holds no records.",
        "Upload a JSON Lines file with one record per line.",
        PREP,
    ),
    Rule(
        "FILE-BOM",
        Severity.ERROR,
        "The file does not start with a UTF-8 byte order mark.",
        "The file starts with a UTF-8 byte order mark.",
        "Save the file as UTF-8 without BOM (for example `sed -i '1s/^\\xEF\\xBB\\xBF//' FILE`).",
        RFC8259,
    ),
    Rule(
        "FILE-NOT-UTF8-TEXT",
        Severity.ERROR,
        "The file is UTF-8 text: not a compressed archive, not binary, not UTF-16 or UTF-32.",
        "The file is not UTF-8 text: it is compressed, binary, UTF-16 or UTF-32.",
        "Decompress or re-encode the file as the finding says (gunzip, unzip, iconv -f UTF-16 -t UTF-8).",
        JSONL_SPEC,
    ),
    Rule(
        "FILE-INVALID-UTF8",
        Severity.ERROR,
        "Every line decodes as UTF-8.",
        "Lines hold bytes that are not valid UTF-8.",
        "Re-encode the file as UTF-8 (for example `iconv -f <encoding> -t UTF-8`).",
        JSONL_SPEC,
    ),
    Rule(
        "FILE-JSON-ARRAY",
        Severity.ERROR,
        "The file is JSON Lines (one object per line), not a single JSON array.",
        "The file is a single JSON array, not JSON Lines.",
        "Write one JSON object per line, e.g. `jq -c '.[]' data.json > data.jsonl`.",
        PREP,
    ),
    Rule(
        "FILE-BLANK-LINE",
        Severity.WARNING,
        "The file has no blank lines between records.",
        "The file has blank lines.",
        "Remove blank lines; the validated snapshot drops them.",
        JSONL_SPEC,
    ),
    Rule(
        "FILE-CRLF",
        Severity.WARNING,
        "Lines end with LF, not CRLF.",
        "Lines end with CRLF instead of LF.",
        "Convert line endings to LF (`dos2unix FILE`); the validated snapshot uses LF.",
        JSONL_SPEC,
    ),
    Rule(
        "FILE-TRUNCATED-LAST-LINE",
        Severity.ERROR,
        "The last line is complete: it either ends with a newline or is valid JSON.",
        "The last line has no newline and is not valid JSON: the file looks cut short.",
        "The upload looks cut short; upload the complete file again.",
        JSONL_SPEC,
    ),
    Rule(
        "FILE-LINE-TOO-LONG",
        Severity.ERROR,
        "No line exceeds the validator's line-size guard (far above any per-record token quota).",
        "Lines exceed the validator's line-size guard and were skipped.",
        "Check that records are separated by newlines; a record this large exceeds every token quota.",
        PREP,
    ),
    # --- JSON and schema ---------------------------------------------------------------------------------------
    Rule(
        "JSON-INVALID",
        Severity.ERROR,
        "Every non-blank line is one valid JSON value.",
        "Lines are not valid JSON.",
        "Fix the JSON syntax at the reported column (each record must fit on one line).",
        PREP,
    ),
    Rule(
        "SCHEMA-NOT-OBJECT",
        Severity.ERROR,
        "Every record is a JSON object.",
        "Records are JSON values other than objects.",
        "Make each line a JSON object in the base model's format.",
        PREP,
    ),
    Rule(
        "SCHEMA-MISSING-FIELD",
        Severity.ERROR,
        "Every required field of the base model's format is present.",
        "Records lack a field the base model's format requires.",
        "Add the missing field (see the format for the base model in docs/dataset-rules.md).",
        PREP,
    ),
    Rule(
        "SCHEMA-EXTRA-KEY",
        Severity.ERROR,
        "Records and messages carry no keys beyond the format's own.",
        "Records or messages carry keys the format does not have.",
        "Remove the extra key; move metadata out of the training file.",
        CLAUDE_COOKBOOK,
    ),
    Rule(
        "SCHEMA-FIELD-TYPE",
        Severity.ERROR,
        "Every field has the type the format requires (string, list of messages, list of content blocks).",
        "Fields have a type the format does not allow.",
        "Change the field to the required type shown in the message.",
        PREP,
    ),
    Rule(
        "SCHEMA-TOO-FEW-MESSAGES",
        Severity.ERROR,
        "A conversation has at least two messages (a user turn and an assistant turn).",
        "Conversations have fewer than two messages.",
        "Add the missing user or assistant message.",
        CLAUDE_COOKBOOK,
    ),
    Rule(
        "SCHEMA-ROLE-INVALID",
        Severity.ERROR,
        "Every message role is `user` or `assistant`.",
        "Messages have a role other than `user` or `assistant`.",
        "Use role `user` or `assistant`; put a system prompt in the top-level `system` field.",
        CLAUDE_COOKBOOK,
    ),
    Rule(
        "SCHEMA-ROLE-ORDER",
        Severity.ERROR,
        "Roles alternate, starting with `user` and ending with `assistant`.",
        "Roles do not alternate from a first `user` message to a last `assistant` message.",
        "Merge consecutive messages of the same role and end the record with the assistant's answer.",
        CLAUDE_COOKBOOK,
    ),
    Rule(
        "SCHEMA-EMPTY-CONTENT",
        Severity.ERROR,
        "No message (or prompt/completion) is empty or whitespace only.",
        "Messages (or prompts or completions) are empty or whitespace only.",
        "Fill in the text or drop the record.",
        CLAUDE_COOKBOOK,
    ),
    Rule(
        "SCHEMA-CONTENT-BLOCK",
        Severity.ERROR,
        'Converse content and system entries are lists of blocks such as {"text": "..."}.',
        'Converse content or system entries are not lists of blocks such as {"text": "..."}.',
        'Write content as [{"text": "..."}] (bedrock-conversation-2024 format).',
        PREP,
    ),
    Rule(
        "SCHEMA-VERSION",
        Severity.WARNING,
        "Converse records carry a string `schemaVersion` (the documented value is `bedrock-conversation-2024`).",
        "Converse records have no string `schemaVersion`.",
        'Add "schemaVersion": "bedrock-conversation-2024" to each record.',
        NOVA_PREP,
    ),
    Rule(
        "SCHEMA-RESERVED-KEYWORD",
        Severity.ERROR,
        "Claude 3 records contain neither `\\nHuman:` nor `\\nAssistant:` in any text; Nova user and system prompts "
        "contain none of User:, Bot:, Assistant:, System:, <image>, <video>, [EOS], in any letter case.",
        "Texts contain a keyword the model's prompt format reserves (Claude 3: `\\nHuman:`, `\\nAssistant:`; Nova: "
        "User:, Bot:, Assistant:, System:, <image>, <video>, [EOS]).",
        "Reword the text: drop the newline before Human:/Assistant: (Claude) or use a word of similar meaning (Nova).",
        f"{NOVA_PREP}; {CLAUDE_SAMPLE}",
    ),
    Rule(
        "SCHEMA-MEDIA-NOT-ALLOWED",
        Severity.ERROR,
        "Image and video blocks appear only in user turns of Nova Lite, Nova Pro and Nova 2 Lite records (never in "
        "system or assistant content, never for the text-only Nova Micro).",
        "Image or video blocks are where the model does not accept them (system, assistant turns, or Nova Micro).",
        "Move the media into the user turn, or choose a multimodal base model (Nova Lite, Nova Pro, Nova 2 Lite).",
        f"{NOVA2_SFT}; {NOVA_SAMPLE}",
    ),
    Rule(
        "SCHEMA-MEDIA-TOO-MANY",
        Severity.ERROR,
        "A Nova message holds at most 10 images and a Nova record at most 1 video.",
        "Nova messages hold more than 10 images, or records more than 1 video.",
        "Split the record, or keep at most 10 images per message and 1 video per record.",
        f"{NOVA_PREP}; {NOVA_SAMPLE}",
    ),
    Rule(
        "SCHEMA-MEDIA-MIXED",
        Severity.ERROR,
        "A Nova dataset is text with images or text with video: no record, and no two records, mix the two.",
        "The dataset mixes images and video (within a record or across records).",
        "Keep one media kind per dataset: move the records with the other kind to a dataset of their own.",
        f"{NOVA_PREP}; {NOVA2_SFT}",
    ),
    Rule(
        "SCHEMA-REASONING-CONTENT",
        Severity.ERROR,
        'reasoningContent blocks appear only in Nova 2 Lite assistant turns, as {"reasoningText": {"text": "..."}} '
        "with non-empty text.",
        "reasoningContent blocks are malformed, outside assistant turns, or given to a model other than Nova 2 Lite.",
        'Write {"reasoningContent": {"reasoningText": {"text": "..."}}} in assistant turns, for Nova 2 Lite only.',
        NOVA2_SFT,
    ),
    Rule(
        "SCHEMA-TOOL-USE",
        Severity.ERROR,
        "Converse records carry no tool use (toolConfig, toolUse or toolResult blocks).",
        "Records carry tool use (toolConfig, toolUse or toolResult), which fine-tuning does not support.",
        "Remove the tool sections; Nova 2 Lite fine-tuning does not support tool use yet.",
        NOVA2_SFT,
    ),
    Rule(
        "SCHEMA-MEDIA-UNCHECKED",
        Severity.INFO,
        "Image and video blocks are present; the validator does not check media files or count their tokens.",
        "Records hold image or video blocks, which the validator neither checks nor counts.",
        "Check the S3 locations and the media constraints on the Nova data-preparation page yourself.",
        NOVA_PREP,
    ),
    # --- Quotas (from the model catalogue's DatasetQuotas) ---------------------------------------------------------
    Rule(
        "QUOTA-MIN-RECORDS",
        Severity.ERROR,
        "The training data has at least the model's minimum number of records.",
        "The training data has fewer records than the model's minimum.",
        "Add training records (or lower the validation/test shares when splitting).",
        PREP,
    ),
    Rule(
        "QUOTA-MAX-TRAIN-RECORDS",
        Severity.ERROR,
        "The training data has at most the model's maximum number of training records.",
        "The training data has more records than the model's maximum.",
        "Remove records, or request a higher quota through Service Quotas.",
        PREP,
    ),
    Rule(
        "QUOTA-MAX-VALIDATION-RECORDS",
        Severity.ERROR,
        "The validation data has at most the model's maximum number of validation records.",
        "The validation data has more records than the model's maximum.",
        "Move records from validation to training or test.",
        PREP,
    ),
    Rule(
        "QUOTA-MAX-TOTAL-RECORDS",
        Severity.ERROR,
        "Training plus validation records stay within the model's total-records quota.",
        "Training plus validation records exceed the model's total-records quota.",
        "Remove records, move some to the test file, or request a higher quota through Service Quotas.",
        PREP,
    ),
    Rule(
        "QUOTA-MAX-TOKENS",
        Severity.ERROR,
        "No record's estimated token count exceeds the model's maximum tokens per record.",
        "Records exceed the model's maximum tokens per record (estimated).",
        "Shorten the record or split the conversation into several records.",
        PREP,
    ),
    Rule(
        "QUOTA-NEAR-MAX-TOKENS",
        Severity.WARNING,
        "No record's estimated token count is within 5% of the model's maximum tokens per record.",
        "Records are within 5% of the model's maximum tokens per record (estimated).",
        "Shorten the record: the estimate is approximate and the real count may exceed the limit.",
        PREP,
    ),
    Rule(
        "QUOTA-FILE-SIZE",
        Severity.ERROR,
        "The training and validation files stay within the model's maximum file sizes.",
        "The training or validation data is larger than the model's maximum file size.",
        "Remove records or shorten them.",
        PREP,
    ),
    # --- Quality checks Bedrock does not make ----------------------------------------------------------------
    Rule(
        "QUALITY-DUPLICATE",
        Severity.WARNING,
        "No record repeats an earlier one in the same split, exactly or after normalising case, whitespace and "
        "punctuation.",
        "Records repeat an earlier record of the same split, exactly or after normalising case, whitespace and "
        "punctuation.",
        "Remove the duplicate; repeated records over-weight one example.",
        PIPELINE,
    ),
    Rule(
        "QUALITY-CONTRADICTION",
        Severity.WARNING,
        "The same prompt does not appear with different answers.",
        "The same prompt appears with different answers.",
        "Keep the correct answer and drop the others.",
        PIPELINE,
    ),
    Rule(
        "QUALITY-LEAKAGE",
        Severity.WARNING,
        "No prompt of the training data appears in the validation or test data.",
        "Prompts of the training data appear in the validation or test data.",
        "Remove the prompt from one side; leaked prompts inflate validation and evaluation scores.",
        PIPELINE,
    ),
    Rule(
        "QUALITY-SHORT-ANSWER",
        Severity.WARNING,
        "The final answer has at least a few characters.",
        "Final answers are only a few characters long.",
        "Check the answer; very short answers teach the model to answer tersely.",
        PIPELINE,
    ),
    Rule(
        "QUALITY-SECRET",
        Severity.WARNING,
        "Records contain no credentials (AWS access key ids, private keys).",
        "Records contain credentials (AWS access key ids, private keys).",
        "Remove the credential from the data and rotate it: a fine-tuned model can reproduce it.",
        PIPELINE,
    ),
    Rule(
        "QUALITY-PII",
        Severity.WARNING,
        "Records contain no obvious personal data (emails, phone numbers, card numbers passing Luhn, US SSNs).",
        "Records contain what looks like personal data (emails, phone numbers, card numbers passing Luhn, US SSNs).",
        "Remove or pseudonymise the personal data unless you have a lawful basis to train on it.",
        PIPELINE,
    ),
    Rule(
        "QUALITY-INDEX-FULL",
        Severity.ERROR,
        "Every record was checked (checking stops after 200,000 records, so memory and time stay bounded).",
        "Records past the 200,000-record check limit were counted, not checked.",
        "Records past the limit were counted, not checked, so the dataset cannot pass: remove records.",
        PIPELINE,
    ),
    Rule(
        "SPLIT-ADJUSTED",
        Severity.INFO,
        "The requested split shares fit the model's quotas.",
        "The requested split shares were reduced to fit the model's quotas.",
        "None needed: shares were reduced so validation stays under its quota and training keeps its minimum.",
        PREP,
    ),
)

RULES: dict[str, Rule] = {rule.rule_id: rule for rule in _RULES}


def rule(rule_id: str) -> Rule:
    """Look a rule up by id; an unknown id is a programming error."""
    return RULES[rule_id]
