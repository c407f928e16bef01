"""Property tests: whatever bytes or JSON values arrive, the validator returns a report and never crashes."""

from __future__ import annotations

import json

from dataset_fixtures import HAIKU, LLAMA_31, NOVA, source
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_core.dataset import SplitConfig, validate

MODELS = st.sampled_from([HAIKU, LLAMA_31, NOVA])
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", 3]), "content": json_values | st.text()}
)
near_valid = st.fixed_dictionaries({"messages": st.lists(message, max_size=5)}, optional={"system": json_values})


def check(data: bytes, model: str, chunk: int) -> None:
    result = validate([source("train", "f.jsonl", data, chunk)], base_model_id=model)
    report = result.report
    assert report.valid == (report.errors == 0)
    json.loads(report.to_json())
    assert report.to_text()
    assert all(f.line is None or f.line >= 1 for f in report.findings)


@SETTINGS
@given(data=st.binary(max_size=2000), model=MODELS, chunk=st.integers(0, 64))
def test_arbitrary_bytes(data: bytes, model: str, chunk: int) -> None:
    check(data, model, chunk)


@SETTINGS
@given(values=st.lists(json_values | near_valid, max_size=12), model=MODELS, chunk=st.integers(0, 64))
def test_arbitrary_json_values(values: list[object], model: str, chunk: int) -> None:
    check(b"".join(json.dumps(v).encode() + b"\n" for v in values), model, chunk)


@SETTINGS
@given(values=st.lists(near_valid, min_size=1, max_size=40), seed=st.integers(-(2**63), 2**63 - 1))
def test_split_never_crashes_and_partitions(values: list[object], seed: int) -> None:
    data = b"".join(json.dumps(v).encode() + b"\n" for v in values)
    result = validate([source("pool", "f.jsonl", data)], base_model_id=HAIKU, split=SplitConfig(0.2, 0.2, seed))
    assert sum(result.report.records(s) for s in ("train", "validation", "test")) == len(values)
