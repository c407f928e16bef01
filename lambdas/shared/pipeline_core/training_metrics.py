"""Reads the loss curves a Bedrock customization job writes and applies the optional validation-loss threshold.

Bedrock writes `training_artifacts/step_wise_training_metrics.csv` and
`validation_artifacts/post_fine_tuning_validation/validation_metrics.csv` under
`<output>/model-customization-job-<id>/`, with columns `step_number, epoch_number, training_loss` (or
`validation_loss`) and, per the documentation, `perplexity`
(docs.aws.amazon.com/bedrock/latest/userguide/model-customization-analyze.html). AWS sample code reads
`.../post_fine_tuning_validation/validation/validation_metrics.csv`, so both locations are accepted.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

TRAINING_FILE = "step_wise_training_metrics.csv"
VALIDATION_FILE = "validation_metrics.csv"


class MetricsFormatError(ValueError):
    """A metrics CSV lacks the loss column or has no readable rows."""


@dataclass(frozen=True)
class TrainingMetrics:
    """Final losses of a job (None when the file was not written) and the number of steps seen."""

    final_training_loss: float | None
    final_validation_loss: float | None
    training_steps: int
    validation_steps: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def metrics_kind(key: str) -> str | None:
    """'training' or 'validation' for a metrics CSV key written by the job, None for anything else."""
    if key.endswith("/" + TRAINING_FILE) and "/training_artifacts/" in key:
        return "training"
    if key.endswith("/" + VALIDATION_FILE) and "/post_fine_tuning_validation/" in key:
        return "validation"
    return None


def final_loss(text: str, column: str) -> tuple[float | None, int]:
    """The loss on the last row (highest step, then epoch) of a metrics CSV, and the number of rows."""
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip() for f in reader.fieldnames or []]
    if column not in fields:
        raise MetricsFormatError(f"expected a {column} column, found {', '.join(fields) or 'no header'}")
    rows: list[tuple[float, float, float]] = []
    for row in reader:
        clean = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        try:
            loss = float(clean[column])
            step = float(clean.get("step_number") or 0)
            epoch = float(clean.get("epoch_number") or 0)
        except ValueError:
            continue  # a blank or malformed row does not decide the final loss
        if math.isfinite(loss):
            rows.append((epoch, step, loss))
    if not rows:
        return None, 0
    # Steps may restart at each epoch in some outputs, so order by (epoch, step).
    return max(rows)[2], len(rows)


def read_metrics(training_csv: str | None, validation_csv: str | None) -> TrainingMetrics:
    train_loss, train_steps = final_loss(training_csv, "training_loss") if training_csv else (None, 0)
    val_loss, val_steps = final_loss(validation_csv, "validation_loss") if validation_csv else (None, 0)
    return TrainingMetrics(train_loss, val_loss, train_steps, val_steps)


def check_threshold(metrics: TrainingMetrics, max_validation_loss: float | None) -> tuple[bool, str]:
    """Whether the job's losses pass the run's optional threshold, with a reason a person can read."""
    if max_validation_loss is None:
        return True, "no validation-loss threshold set"
    loss = metrics.final_validation_loss
    if loss is None:
        return False, f"no validation loss was reported, so the threshold {max_validation_loss:g} cannot be checked"
    if loss > max_validation_loss:
        return False, f"final validation loss {loss:.4f} exceeds the threshold {max_validation_loss:g}"
    return True, f"final validation loss {loss:.4f} is within the threshold {max_validation_loss:g}"


def pick_metrics_keys(keys: Iterable[str]) -> dict[str, str]:
    """From a listing under the job's output prefix, the newest-looking key for each kind (sorted order wins)."""
    found: dict[str, str] = {}
    for key in sorted(keys):
        kind = metrics_kind(key)
        if kind is not None:
            found[kind] = key
    return found
