"""Constants and helpers shared by the handler tests (the fixtures that use them are in conftest.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from pipeline_core import contracts

LAMBDAS = Path(__file__).resolve().parents[3] / "lambdas"
REGION = "us-west-2"
ACCOUNT = "123456789012"
DATA, ARTIFACTS = "training-data", "artifacts"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
PROMOTION_PARAMETER = "/finetune/promoted-model"

# The shape `stacks` serialises into PIPELINE_DEFAULTS (DESIGN.md, the run spec without names and buckets).
DEFAULTS: dict[str, Any] = {
    "pipeline_name": "finetune",
    "base_model_id": HAIKU,
    "hyperparameters": {
        "epochCount": "2",
        "batchSize": "32",
        "learningRateMultiplier": "1.0",
        "earlyStoppingThreshold": "0.001",
        "earlyStoppingPatience": "2",
    },
    "split": {"validation_share": 0.1, "test_share": 0.1, "seed": 13},
    "evaluation": {
        "metric": "token_f1",
        "max_tokens": 512,
        "concurrency": 4,
        "max_examples": 5000,
        "batch_size": 50,
        "reference_models": [],
        "gate": {
            "min_score": 0.0,
            "min_improvement_points": 1.0,
            "min_improvement_percent": 0.0,
            "max_p_value": 0.05,
            "max_failed_share": 0.02,
        },
    },
    "throughput": {"model_units": 1, "keep_after_promotion": True, "max_wait_minutes": 60},
    "max_validation_loss": None,
    "price_per_1k_training_tokens": None,
    "poll": {"job_seconds": 600, "throughput_seconds": 120},
}


def load_handler(folder: str) -> ModuleType:
    """Import lambdas/<folder>/handler.py under a unique name (every Lambda's entry file is handler.py)."""
    name = f"{folder}_handler_under_test"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, LAMBDAS / folder / "handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def run_spec(**overrides: Any) -> dict[str, Any]:
    """A resolved `$.run` as Resolve run would return it."""
    spec: dict[str, Any] = {
        "pipeline_name": "finetune",
        "run_name": "demo",
        "execution_name": "demo-0123456789abcdef",
        "base_model_id": HAIKU,
        "runtime_model_id": "anthropic.claude-3-haiku-20240307-v1:0",
        "data_bucket": DATA,
        "artifacts_bucket": ARTIFACTS,
        "artifacts_prefix": contracts.run_prefix("demo", "demo-0123456789abcdef"),
        "source": {"kind": "single", "train_key": "inbox/demo.jsonl", "validation_key": None, "test_key": None},
        "split": DEFAULTS["split"],
        "hyperparameters": DEFAULTS["hyperparameters"],
        "epochs": 2,
        "evaluation": DEFAULTS["evaluation"],
        "throughput": DEFAULTS["throughput"],
        "max_validation_loss": None,
        "price_per_1k_training_tokens": None,
        "poll": DEFAULTS["poll"],
        "max_training_hours": 24,
    }
    spec.update(overrides)
    return spec


def client_error(code: str, status: int = 400) -> dict[str, Any]:
    """Keyword arguments for Stubber.add_client_error."""
    return {"service_error_code": code, "service_message": f"simulated {code}", "http_status_code": status}
