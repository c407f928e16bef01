"""The typed aggregate result of one evaluation, which every report format is rendered from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pipeline_core.metrics.gate import GateResult, GateThresholds
from pipeline_core.metrics.operational import CostEstimate, LatencySummary
from pipeline_core.metrics.stats import Estimate, PairedTest
from pipeline_core.report.serving import ServingInfo

JsonValue = Any  # settings are whatever JSON the run was configured with


class Role(StrEnum):
    CANDIDATE = "candidate"  # the fine-tuned model under test
    CHAMPION = "champion"  # the model in production, which the candidate would replace
    BASE = "base"  # the model it was fine-tuned from
    REFERENCE = "reference"  # any other model shown for context, never gated on


@dataclass(frozen=True)
class ModelRoles:
    """Which model name plays which part; the names match the `model` field of evaluation records."""

    candidate: str
    base: str
    references: tuple[str, ...] = ()
    champion: str | None = None  # the model in production, when one is compared

    def __post_init__(self) -> None:
        names = self.ordered()
        if len(set(names)) != len(names):
            raise ValueError(f"model names must be distinct: {', '.join(names)}")

    def ordered(self) -> tuple[str, ...]:
        """Candidate, champion, base, then the references: the column order of every table."""
        champion = () if self.champion is None else (self.champion,)
        return (self.candidate, *champion, self.base, *self.references)

    def role_of(self, name: str) -> Role:
        if name == self.candidate:
            return Role.CANDIDATE
        if self.champion is not None and name == self.champion:
            return Role.CHAMPION
        if name == self.base:
            return Role.BASE
        if name in self.references:
            return Role.REFERENCE
        raise KeyError(name)


@dataclass(frozen=True)
class ModelResult:
    """One model's figures. Metric estimates are None when the model answered nothing successfully."""

    name: str
    role: Role
    examples: int  # distinct example ids in the evaluation
    failed_calls: int  # records with an error
    missing_calls: int  # examples with no record at all for this model
    metrics: Mapping[str, Estimate | None]
    latency: LatencySummary | None
    cost: CostEstimate | None  # None when the price table has no entry for the model
    model_arn: str | None = None

    @property
    def unanswered(self) -> int:
        return self.failed_calls + self.missing_calls

    @property
    def failed_share(self) -> float:
        return self.unanswered / self.examples if self.examples else 1.0


@dataclass(frozen=True)
class Comparison:
    """The candidate against one other model on one metric, over the examples both answered."""

    metric: str
    other: str
    test: PairedTest | None  # None when no example was answered by both
    relative_change_percent: float | None  # candidate mean vs other mean, as shown in the table


@dataclass(frozen=True)
class ExampleDifference:
    """One example on which candidate and base scored differently on the primary metric."""

    id: str
    references: tuple[str, ...]
    candidate_prediction: str
    base_prediction: str
    candidate_score: float
    base_score: float

    @property
    def difference(self) -> float:
        return self.candidate_score - self.base_score


@dataclass(frozen=True)
class RunInfo:
    """Where the figures came from: recorded verbatim in every report."""

    run_name: str
    dataset_sha256: str
    simulated: bool  # True for the local rehearsal: every rendering says so
    job_arn: str | None = None
    model_arns: Mapping[str, str] = field(default_factory=dict)  # model name -> model or throughput ARN
    settings: Mapping[str, JsonValue] = field(default_factory=dict)
    # Lifecycle warnings from Resolve run (a Legacy base or reference model): shown above the verdict.
    warnings: tuple[str, ...] = ()
    # How the candidate was served and what that cost; None in reports made without a workflow (finetune score).
    serving: ServingInfo | None = None
    # The champion Resolve run found ({model_id, kind, run_name, served, note}); None when none was recorded.
    champion: Mapping[str, JsonValue] | None = None


@dataclass(frozen=True)
class EvaluationReport:
    """Everything report.json, report.md and report.html show."""

    run: RunInfo
    metrics: tuple[str, ...]  # metric names, primary first
    models: tuple[ModelResult, ...]  # candidate, champion (when compared), base, references
    comparisons: tuple[Comparison, ...]
    thresholds: GateThresholds
    gate: GateResult
    top_differences: tuple[ExampleDifference, ...]
    resamples: int
    seed: int

    @property
    def primary_metric(self) -> str:
        return self.thresholds.metric

    @property
    def simulated(self) -> bool:
        return self.run.simulated

    @property
    def candidate(self) -> ModelResult:
        return next(m for m in self.models if m.role is Role.CANDIDATE)

    @property
    def base(self) -> ModelResult:
        return next(m for m in self.models if m.role is Role.BASE)

    @property
    def champion(self) -> ModelResult | None:
        return next((m for m in self.models if m.role is Role.CHAMPION), None)

    @property
    def references(self) -> tuple[ModelResult, ...]:
        return tuple(m for m in self.models if m.role is Role.REFERENCE)

    def comparison(self, metric: str, other: str) -> Comparison | None:
        return next((c for c in self.comparisons if c.metric == metric and c.other == other), None)
