"""Folds per-example evaluation records, arriving in batches, into the aggregate EvaluationReport.

A record is `{"id", "model", "prediction", "references", "latency_ms", "input_tokens", "output_tokens",
"error"}`. Failed calls (error set) are counted but never scored. Distributed Map may retry a batch, so a
repeated (model, id) is folded once: a success replaces an earlier failure, otherwise the first one stays.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline_core.metrics.evaluate import Observation, compare, observe, summarise
from pipeline_core.metrics.gate import GateEvidence, GateThresholds, ModelEvidence, evaluate_gate
from pipeline_core.metrics.operational import TokenPrice, cost_per_1000_requests, latency_summary
from pipeline_core.metrics.registry import Metric
from pipeline_core.metrics.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, Estimate, relative_change
from pipeline_core.report.model import (
    Comparison,
    EvaluationReport,
    ExampleDifference,
    ModelResult,
    ModelRoles,
    Role,
    RunInfo,
)

TOP_DIFFERENCES = 10


@dataclass(frozen=True)
class EvaluationRecord:
    """One model's answer to one test example, as the Evaluate step writes it."""

    id: str
    model: str
    prediction: str
    references: tuple[str, ...]
    latency_ms: float
    input_tokens: int
    output_tokens: int
    error: str | None

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> EvaluationRecord:
        """Parse and type-check a decoded JSON record; ValueError says which field is wrong."""
        ident = raw.get("id")
        if not isinstance(ident, str | int) or isinstance(ident, bool):
            raise ValueError("record id must be a string or an integer")
        where = f"record {ident!r}"
        model = raw.get("model")
        if not isinstance(model, str) or not model:
            raise ValueError(f"{where}: model must be a non-empty string")
        error = raw.get("error")
        if error is not None and not isinstance(error, str):
            raise ValueError(f"{where}: error must be a string or null")
        prediction = raw.get("prediction")
        if prediction is None and error is not None:
            prediction = ""  # a failed call may have no prediction at all
        if not isinstance(prediction, str):
            raise ValueError(f"{where}: prediction must be a string")
        references = raw.get("references")
        if not isinstance(references, list) or not references or not all(isinstance(r, str) for r in references):
            raise ValueError(f"{where}: references must be a non-empty list of strings")
        numbers: dict[str, float] = {}
        for key in ("latency_ms", "input_tokens", "output_tokens"):
            value = raw.get(key)
            if value is None and error is not None:
                value = 0  # a failed call may not have been timed or metered
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{where}: {key} must be a non-negative number")
            numbers[key] = value
        return cls(
            id=str(ident),
            model=model,
            prediction=prediction,
            references=tuple(references),
            latency_ms=float(numbers["latency_ms"]),
            input_tokens=int(numbers["input_tokens"]),
            output_tokens=int(numbers["output_tokens"]),
            error=error,
        )


@dataclass(frozen=True)
class _Answer:
    """What we keep of one (model, id) record: enough to score, time and cost it."""

    ok: bool
    observations: tuple[Observation, ...]  # one per metric, in the aggregator's metric order
    primary_score: float
    prediction: str  # kept only for candidate and base, for the "differ most" list
    latency_ms: float
    input_tokens: int
    output_tokens: int
    error_code: str = ""  # a failed call's error code ("ModelErrorException"), for the notes on left-out examples


class Aggregator:
    """Accumulates evaluation records and produces the EvaluationReport.

    Scores are computed as records arrive, so memory holds one float (or label pair) per metric per
    answer, plus the candidate's and base's predictions for the report's example list.
    """

    def __init__(
        self,
        *,
        roles: ModelRoles,
        metrics: Sequence[Metric],
        thresholds: GateThresholds,
        prices: Mapping[str, TokenPrice] | None = None,
        resamples: int = DEFAULT_RESAMPLES,
        seed: int = DEFAULT_SEED,
        champion_note: str | None = None,
    ) -> None:
        """`champion_note`: what Resolve run found of the champion (or why none is among the roles), for the notes."""
        self._champion_note = champion_note
        names = [m.name for m in metrics]
        if thresholds.metric not in names:
            raise ValueError(f"the gate's metric {thresholds.metric!r} is not among the metrics: {', '.join(names)}")
        # The primary metric goes first: it heads every table and decides the example list.
        self._metrics = tuple(sorted(metrics, key=lambda m: m.name != thresholds.metric))
        self._roles = roles
        self._thresholds = thresholds
        self._prices = dict(prices or {})
        self._resamples = resamples
        self._seed = seed
        self._answers: dict[str, dict[str, _Answer]] = {name: {} for name in roles.ordered()}
        self._references: dict[str, tuple[str, ...]] = {}

    def add_batch(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Fold a batch of decoded JSON records; returns how many were read."""
        count = 0
        for raw in records:
            self.add(EvaluationRecord.from_mapping(raw))
            count += 1
        return count

    def add(self, record: EvaluationRecord) -> None:
        if record.model not in self._answers:
            raise ValueError(
                f"record {record.id!r}: unknown model {record.model!r}; expected one of {', '.join(self._answers)}"
            )
        known = self._references.setdefault(record.id, record.references)
        if known != record.references:
            raise ValueError(f"record {record.id!r}: references differ from an earlier record of the same example")
        previous = self._answers[record.model].get(record.id)
        if previous is not None and (previous.ok or record.error is not None):
            return  # a retried batch: keep the first success, or the first failure if nothing succeeded
        keep_text = record.model in (self._roles.candidate, self._roles.base)
        if record.error is not None:
            code = record.error.split(":", 1)[0].strip() or "error"
            answer = _Answer(False, (), 0.0, "", record.latency_ms, record.input_tokens, record.output_tokens, code)
        else:
            observations = tuple(observe(m, record.prediction, record.references) for m in self._metrics)
            answer = _Answer(
                True,
                observations,
                self._metrics[0].score(record.prediction, record.references),
                record.prediction if keep_text else "",
                record.latency_ms,
                record.input_tokens,
                record.output_tokens,
            )
        self._answers[record.model][record.id] = answer

    def _model_result(self, name: str, example_ids: Sequence[str], run: RunInfo) -> ModelResult:
        answers = self._answers[name]
        ok = [answers[i] for i in example_ids if i in answers and answers[i].ok]
        estimates: dict[str, Estimate | None] = {}
        for index, metric in enumerate(self._metrics):
            observations = [a.observations[index] for a in ok]
            estimates[metric.name] = (
                summarise(metric, observations, resamples=self._resamples, seed=self._seed) if observations else None
            )
        price = self._prices.get(name)
        return ModelResult(
            name=name,
            role=self._roles.role_of(name),
            examples=len(example_ids),
            failed_calls=sum(1 for i in example_ids if i in answers and not answers[i].ok),
            missing_calls=sum(1 for i in example_ids if i not in answers),
            metrics=estimates,
            latency=latency_summary([a.latency_ms for a in ok]),
            cost=cost_per_1000_requests([a.input_tokens for a in ok], [a.output_tokens for a in ok], price)
            if price
            else None,
            model_arn=run.model_arns.get(name),
        )

    def _comparisons(self, example_ids: Sequence[str], models: Sequence[ModelResult]) -> list[Comparison]:
        candidate = self._answers[self._roles.candidate]
        by_name = {m.name: m for m in models}
        result: list[Comparison] = []
        for other_name in self._roles.ordered()[1:]:
            other = self._answers[other_name]
            paired = self._paired(example_ids, other_name)
            for index, metric in enumerate(self._metrics):
                test = (
                    compare(
                        metric,
                        [candidate[i].observations[index] for i in paired],
                        [other[i].observations[index] for i in paired],
                        resamples=self._resamples,
                        seed=self._seed,
                    )
                    if paired
                    else None
                )
                mine = by_name[self._roles.candidate].metrics[metric.name]
                theirs = by_name[other_name].metrics[metric.name]
                change = relative_change(mine.value, theirs.value) if mine and theirs else None
                result.append(Comparison(metric.name, other_name, test, change))
        return result

    def _paired(self, example_ids: Sequence[str], other_name: str) -> list[str]:
        """The examples both the candidate and `other_name` answered: what a paired comparison rests on."""
        candidate, other = self._answers[self._roles.candidate], self._answers[other_name]
        return [i for i in example_ids if i in candidate and candidate[i].ok and i in other and other[i].ok]

    def _left_out(self, example_ids: Sequence[str], other_name: str) -> str | None:
        """One sentence on the examples a comparison leaves out and why; None when it pairs every example."""
        candidate, other = self._answers[self._roles.candidate], self._answers[other_name]
        own = [i for i in example_ids if not (i in candidate and candidate[i].ok)]
        theirs = [i for i in example_ids if (i in candidate and candidate[i].ok) and not (i in other and other[i].ok)]
        if not own and not theirs:
            return None
        role = self._roles.role_of(other_name)
        label = "the champion" if role is Role.CHAMPION else f"{role.value} {other_name}"
        parts = []
        if theirs:
            causes = Counter(other[i].error_code if i in other else "no record" for i in theirs)
            because = ", ".join(f"{code} \u00d7 {count}" for code, count in sorted(causes.items()))
            parts.append(f"{len(theirs)} that {label} failed or did not answer ({because})")
        if own:
            parts.append(f"{len(own)} that the candidate failed or did not answer")
        paired = len(example_ids) - len(own) - len(theirs)
        return f"comparison with {label}: {paired} of {len(example_ids)} examples paired; left out " + " and ".join(
            parts
        )

    def _top_differences(self, example_ids: Sequence[str]) -> tuple[ExampleDifference, ...]:
        candidate = self._answers[self._roles.candidate]
        base = self._answers[self._roles.base]
        rows = [
            ExampleDifference(
                id=i,
                references=self._references[i],
                candidate_prediction=candidate[i].prediction,
                base_prediction=base[i].prediction,
                candidate_score=candidate[i].primary_score,
                base_score=base[i].primary_score,
            )
            for i in example_ids
            if i in candidate and candidate[i].ok and i in base and base[i].ok
        ]
        rows = [r for r in rows if r.difference != 0]
        rows.sort(key=lambda r: (-abs(r.difference), r.id))  # ties broken by id, so reports are reproducible
        return tuple(rows[:TOP_DIFFERENCES])

    def finish(self, run: RunInfo) -> EvaluationReport:
        """Compute every figure and the gate verdict. Call once, after the last batch."""
        example_ids = sorted(self._references)
        models = tuple(self._model_result(name, example_ids, run) for name in self._roles.ordered())
        comparisons = tuple(self._comparisons(example_ids, models))
        primary = self._thresholds.metric
        by_role = {m.role: m for m in models}
        cand, base, champion = by_role[Role.CANDIDATE], by_role[Role.BASE], by_role.get(Role.CHAMPION)

        def evidence(model: ModelResult) -> ModelEvidence:
            estimate = model.metrics[primary]
            return ModelEvidence(model.name, estimate.value if estimate else None, model.examples, model.unanswered)

        def p_value(model: ModelResult) -> float | None:
            test = next(c.test for c in comparisons if c.metric == primary and c.other == model.name)
            return test.p_value if test else None

        notes = tuple(n for n in (self._left_out(example_ids, name) for name in self._roles.ordered()[1:]) if n)
        gate = evaluate_gate(
            self._thresholds,
            GateEvidence(
                evidence(cand),
                evidence(base),
                p_value(base),
                paired=len(self._paired(example_ids, base.name)),
                champion=evidence(champion) if champion else None,
                champion_p_value=p_value(champion) if champion else None,
                champion_paired=len(self._paired(example_ids, champion.name)) if champion else 0,
                champion_note=self._champion_note,
                notes=notes,
            ),
        )
        return EvaluationReport(
            run=run,
            metrics=tuple(m.name for m in self._metrics),
            models=models,
            comparisons=comparisons,
            thresholds=self._thresholds,
            gate=gate,
            top_differences=self._top_differences(example_ids),
            resamples=self._resamples,
            seed=self._seed,
        )


def aggregate(
    batches: Iterable[Iterable[Mapping[str, Any]]],
    *,
    roles: ModelRoles,
    metrics: Sequence[Metric],
    thresholds: GateThresholds,
    run: RunInfo,
    prices: Mapping[str, TokenPrice] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    champion_note: str | None = None,
) -> EvaluationReport:
    """Convenience: fold every batch and finish."""
    aggregator = Aggregator(
        roles=roles,
        metrics=metrics,
        thresholds=thresholds,
        prices=prices,
        resamples=resamples,
        seed=seed,
        champion_note=champion_note,
    )
    for batch in batches:
        aggregator.add_batch(batch)
    return aggregator.finish(run)
