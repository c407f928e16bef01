"""pipeline.evaluation.champion: validated in cdk.json with errors naming the key, and carried to every run spec."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline_core.evaluation import EvaluationSpec
from pipeline_core.manifest import RunDefaults, build_run_spec, default_choices
from pipeline_core.metrics import ChampionThresholds
from stacks.pipeline_stack import run_defaults
from stacks.settings import ChampionSettings, SettingsError, load_settings


def _settings(champion: Any) -> Any:
    return load_settings({"evaluation": {"champion": champion}})


def test_the_default_requires_a_significant_improvement_over_the_champion() -> None:
    assert load_settings({}).evaluation.champion == ChampionSettings(True, 0.0, 0.05)


@pytest.mark.parametrize(
    ("champion", "key"),
    [
        ({"enable": True}, "pipeline.evaluation.champion.enable"),  # misspelt
        ({"minImprovementPoint": 1}, "pipeline.evaluation.champion.minImprovementPoint"),
        ({"enabled": "yes"}, "pipeline.evaluation.champion.enabled"),
        ({"maxPValue": 1.5}, "pipeline.evaluation.champion.maxPValue"),
        ({"maxPValue": None}, "pipeline.evaluation.champion.maxPValue"),
        ({"minImprovementPoints": -100.5}, "pipeline.evaluation.champion.minImprovementPoints"),
        ("on", "pipeline.evaluation.champion"),
    ],
)
def test_a_bad_champion_setting_names_its_key(champion: Any, key: str) -> None:
    with pytest.raises(SettingsError) as caught:
        _settings(champion)
    assert caught.value.key == key
    assert str(caught.value).startswith(key)


@pytest.mark.parametrize(("value", "ok"), [(0.0, True), (1.0, True), (-0.01, False), (1.01, False)])
def test_max_p_value_range_at_its_ends(value: float, ok: bool) -> None:
    if ok:
        assert _settings({"maxPValue": value}).evaluation.champion.max_p_value == value
    else:
        with pytest.raises(SettingsError):
            _settings({"maxPValue": value})


def test_the_settings_reach_the_run_spec_and_the_gate() -> None:
    settings = _settings({"enabled": False, "minImprovementPoints": 2.5, "maxPValue": 0.01})
    defaults = RunDefaults.from_json(json.dumps(run_defaults(settings)))
    run = build_run_spec(
        default_choices(defaults, settings.region),
        defaults,
        run_name="demo",
        execution_name="demo-0123456789abcdef",
        data_bucket="data",
        artifacts_bucket="artifacts",
        source={"kind": "single", "train_key": "inbox/demo.jsonl"},
    )
    assert run["evaluation"]["gate"]["champion"] == {
        "enabled": False,
        "min_improvement_points": 2.5,
        "max_p_value": 0.01,
    }
    assert EvaluationSpec.from_run(run).gate.champion == ChampionThresholds(False, 2.5, 0.01)
