"""Lambda handler for "Aggregate": streams every batch's result file into the metrics and writes the three reports.

Reads `evaluation/results/batch-*.jsonl` one line at a time into `pipeline_core.report.Aggregator` (which keeps
one score per metric per answer, never the files), runs the quality gate, and writes `report.json`,
`report.md` and `report.html` under the run's prefix with SSE-KMS. Returns the verdict and a short table for
the notification; the full figures stay in S3.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import transient_errors
from pipeline_aws.logs import bind, log, setup_logging
from pipeline_aws.observability import instrumented
from pipeline_aws.s3 import list_keys, put_bytes
from pipeline_core import contracts
from pipeline_core.dataset.lines import LineReader
from pipeline_core.evaluation import EvaluationFailed, EvaluationSpec, PriceTable, SpecError, is_blank
from pipeline_core.explain import REASON_SEPARATOR
from pipeline_core.metrics import TokenPrice, get_metric
from pipeline_core.models import UnsupportedModelError, get_base_model
from pipeline_core.report import (
    Aggregator,
    EvaluationReport,
    ModelRoles,
    RunInfo,
    ServingInfo,
    render_html,
    render_json,
    render_markdown,
)

LOGGER = setup_logging("aggregate")

__all__ = ["EvaluationFailed", "handler"]

READ_CHUNK_BYTES = 1 << 20
CANDIDATE_LABEL = "fine-tuned"  # the candidate's name in every report table, instead of a long PT ARN
CHAMPION_LABEL = "champion"  # the model in production, when the gate compares with it


@dataclass(frozen=True)
class AggregateInput:
    """The parts of the state document this step reads: `$.run`, `$.validation`, `$.job`, `$.throughput`, `$.plan`."""

    run: Mapping[str, Any]
    run_name: str
    base_model_id: str
    runtime_model_id: str
    artifacts_bucket: str
    artifacts_prefix: str
    evaluation: EvaluationSpec
    prices: PriceTable
    dataset_sha256: str
    job_arn: str | None
    custom_model_arn: str | None
    throughput_arn: str
    throughput: Mapping[str, Any]
    planned_examples: int
    planned_batches: int

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> AggregateInput:
        try:
            run = event["run"]
            job = event.get("job") or {}
            prefix = str(run["artifacts_prefix"])
            return cls(
                run=run,
                run_name=str(run["run_name"]),
                base_model_id=str(run["base_model_id"]),
                runtime_model_id=str(run["runtime_model_id"]),
                artifacts_bucket=str(run["artifacts_bucket"]),
                artifacts_prefix=prefix if prefix.endswith("/") else prefix + "/",
                evaluation=EvaluationSpec.from_run(run),
                prices=PriceTable.from_run(run),
                dataset_sha256=str(event["validation"]["dataset_sha256"]),
                job_arn=job.get("job_arn"),
                custom_model_arn=job.get("custom_model_arn"),
                throughput_arn=str(event["throughput"]["arn"]),
                throughput=dict(event["throughput"]),
                planned_examples=int(event["plan"]["examples"]),
                planned_batches=int(event["plan"]["batches"]),
            )
        except (KeyError, TypeError, ValueError, SpecError) as exc:
            raise EvaluationFailed(f"malformed aggregate event: {exc}") from exc

    @property
    def base_label(self) -> str:
        """The base model's display name from the catalogue; its runtime id when the catalogue does not know it."""
        try:
            return get_base_model(self.base_model_id).display_name
        except UnsupportedModelError:
            return self.runtime_model_id

    @property
    def champion_id(self) -> str | None:
        """The champion's model id when the evaluate step asked it (models_to_call's rule), else None."""
        champion = self.evaluation.champion_to_call
        return None if champion in (None, self.throughput_arn, self.runtime_model_id) else champion

    @property
    def champion_note(self) -> str:
        """What Resolve run found of the champion, for the gate's notes: which run and what serves it, or why the
        report has no champion column."""
        champion = self.evaluation.champion
        if champion is None:
            return "no model had been promoted when the run started"
        return champion.note or ("the champion is served" if self.champion_id else "the champion is not served")

    @property
    def reference_ids(self) -> tuple[str, ...]:
        """Distinct references other than the candidate, champion and base: the evaluate step asked each once."""
        asked = {self.throughput_arn, self.runtime_model_id, self.champion_id}
        return tuple(r for r in dict.fromkeys(self.evaluation.reference_models) if r not in asked)

    def labels(self) -> dict[str, str]:
        """Model id as written in the records -> the name the report shows (references keep their ids)."""
        labels = {self.throughput_arn: CANDIDATE_LABEL, self.runtime_model_id: self.base_label}
        if self.champion_id is not None:
            labels[self.champion_id] = CHAMPION_LABEL
        return labels | {r: r for r in self.reference_ids}

    def roles(self) -> ModelRoles:
        champion = CHAMPION_LABEL if self.champion_id is not None else None
        return ModelRoles(
            candidate=CANDIDATE_LABEL, base=self.base_label, references=self.reference_ids, champion=champion
        )

    def serving(self, reported_at: datetime) -> ServingInfo:
        try:
            return ServingInfo.from_state(self.run, self.throughput, reported_at)
        except (TypeError, ValueError) as exc:
            raise EvaluationFailed(f"malformed aggregate event: {exc}") from exc

    def run_info(self, simulated: bool, serving: ServingInfo | None = None) -> RunInfo:
        labels = self.labels()
        settings: dict[str, Any] = {
            "base_model_id": self.base_model_id,
            "custom_model_arn": self.custom_model_arn,
            "evaluation": self.run.get("evaluation"),
            "hyperparameters": self.run.get("hyperparameters"),
            "epochs": self.run.get("epochs"),
            "planned_examples": self.planned_examples,
        }
        if self.prices.prices:
            settings["pricing"] = {"source": self.prices.source, "date": self.prices.date}
        return RunInfo(
            run_name=self.run_name,
            dataset_sha256=self.dataset_sha256,
            simulated=simulated,
            job_arn=self.job_arn,
            model_arns={label: model_id for model_id, label in labels.items()},
            settings=settings,
            warnings=tuple(str(w) for w in self.run.get("warnings") or ()),
            serving=serving,
            champion=None if self.evaluation.champion is None else self.evaluation.champion.to_dict(),
        )

    def token_prices(self, serving: ServingInfo | None = None) -> dict[str, TokenPrice]:
        """Prices keyed by the report's model names.

        The candidate is priced only when it was served on demand and the settings give an on-demand custom-model
        price; a Provisioned Throughput is billed by the hour, not by token (ServingInfo states those hours).
        """
        labels = self.labels()
        del labels[self.throughput_arn]
        labels.pop(self.champion_id or "", None)  # a custom model, billed like the candidate: not by the list price
        prices = {labels[model_id]: price for model_id, price in self.prices.prices.items() if model_id in labels}
        if serving is not None and serving.on_demand and serving.token_price is not None:
            prices[CANDIDATE_LABEL] = serving.token_price
        return prices


def _records(s3: Any, bucket: str, key: str, labels: Mapping[str, str], seen: set[str]) -> Iterator[dict[str, Any]]:
    """Decode one result file line by line, renaming each record's model to its report name."""
    with transient_errors():
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        with transient_errors():
            for line in LineReader(body.iter_chunks(chunk_size=READ_CHUNK_BYTES)):
                if is_blank(line.data):
                    continue
                where = f"s3://{bucket}/{key} line {line.number}"
                try:
                    record = json.loads(line.data)
                    model = record["model"]
                except (ValueError, KeyError, TypeError) as exc:
                    raise EvaluationFailed(f"{where}: not an evaluation record ({exc})") from exc
                if model not in labels:
                    raise EvaluationFailed(f"{where}: model {model!r} is not one this run evaluated")
                seen.add(str(record.get("id")))
                yield {**record, "model": labels[model]}
    finally:
        body.close()


def _first_table(markdown: str) -> str:
    """The first Markdown table of the report (the quality table): short enough for the state document."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end])


def aggregate(
    step: AggregateInput, s3: Any, *, simulated: bool, now: datetime | None = None
) -> tuple[EvaluationReport, dict[str, Any]]:
    """`now` ends the Provisioned Throughput hours the report counts; the current time unless a test sets it."""
    bucket, prefix = step.artifacts_bucket, step.artifacts_prefix
    serving = step.serving(now or datetime.now(UTC))
    results_prefix = prefix + contracts.EVALUATION_RESULTS
    keys = sorted(k for k in list_keys(bucket, results_prefix, s3=s3) if k.endswith(".jsonl"))
    if not keys:
        raise EvaluationFailed(f"no evaluation results under s3://{bucket}/{results_prefix}")
    spec = step.evaluation
    aggregator = Aggregator(
        roles=step.roles(),
        metrics=[get_metric(name) for name in spec.metric_names],
        thresholds=spec.gate,
        prices=step.token_prices(serving),
        champion_note=step.champion_note,
    )
    labels, seen = step.labels(), set[str]()
    for key in keys:
        try:
            aggregator.add_batch(_records(s3, bucket, key, labels, seen))
        except ValueError as exc:  # the Aggregator's check of a record's fields
            raise EvaluationFailed(f"s3://{bucket}/{key}: {exc}") from exc
    if len(seen) < step.planned_examples:
        raise EvaluationFailed(
            f"results cover {len(seen)} of the {step.planned_examples} planned examples "
            f"({len(keys)} of {step.planned_batches} batch files under s3://{bucket}/{results_prefix})"
        )
    report = aggregator.finish(step.run_info(simulated, serving))
    markdown = render_markdown(report)
    uris = {
        "report_uri": put_bytes(
            bucket, prefix + contracts.REPORT_JSON, render_json(report).encode(), content_type="application/json", s3=s3
        ),
        "report_md_uri": put_bytes(
            bucket, prefix + contracts.REPORT_MD, markdown.encode(), content_type="text/markdown; charset=utf-8", s3=s3
        ),
        "report_html_uri": put_bytes(
            bucket, prefix + contracts.REPORT_HTML, render_html(report).encode(), content_type="text/html", s3=s3
        ),
    }
    output = {
        "verdict": report.gate.verdict.value,
        "reasons": list(report.gate.reasons),
        # The same reasons as one sentence for the notification (the workflow's Cause), so no client has to
        # decode a JSON array from a message. A reason may itself hold "; ", hence the separator; the failure's
        # sentence cuts between reasons (pipeline_core.explain).
        "reasons_text": REASON_SEPARATOR.join(report.gate.reasons),
        **uris,
        "table_md": _first_table(markdown),
    }
    return report, output


@instrumented
def handler(
    event: Mapping[str, Any], context: object = None, *, s3: Any = None, now: datetime | None = None
) -> dict[str, Any]:
    """Lambda entry point. `s3` and `now` are injectable for tests; otherwise the shared client and the clock."""
    step = AggregateInput.from_event(event)
    bind(run=step.run_name, execution=step.run.get("execution_name"))
    simulated = os.environ.get(contracts.ENV_SIMULATION) == "1"
    report, output = aggregate(step, s3 if s3 is not None else CLIENTS.s3, simulated=simulated, now=now)
    log(
        LOGGER,
        "evaluation aggregated",
        verdict=output["verdict"],
        examples=report.candidate.examples,
        simulated=simulated,
        serving=report.run.serving.description if report.run.serving else None,
        report_uri=output["report_uri"],
    )
    return output
