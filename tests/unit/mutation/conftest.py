"""Gives the mutation tests the handler tests' fixtures (moto account, stubbed Bedrock) and the dataset tests' `run`.

tests/unit/handlers/conftest.py is loaded under its own module name and its fixtures re-exported here, so this folder
needs no copy of them; handler_fixtures (load_handler, run_spec, ...) is importable as in the handler tests.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HANDLERS = Path(__file__).resolve().parents[1] / "handlers"
DATASET = Path(__file__).resolve().parents[1] / "dataset"
for folder in (HANDLERS, DATASET):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from dataset_fixtures import run  # noqa: E402  (importable only once DATASET is on sys.path)

_spec = importlib.util.spec_from_file_location("handler_conftest_for_mutation_tests", HANDLERS / "conftest.py")
assert _spec and _spec.loader
_handlers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_handlers)

aws_env = _handlers.aws_env
admission_table = _handlers.admission_table
state_machine = _handlers.state_machine
kms_key = _handlers.kms_key
buckets = _handlers.buckets
bedrock = _handlers.bedrock
defaults_env = _handlers.defaults_env
handler_module = _handlers.handler_module

__all__ = [
    "admission_table",
    "aws_env",
    "bedrock",
    "buckets",
    "defaults_env",
    "handler_module",
    "kms_key",
    "run",
    "state_machine",
]
