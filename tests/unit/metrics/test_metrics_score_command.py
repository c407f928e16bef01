"""`finetune score`: output, the --json shape, and exit codes for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finetune.cli import main

WORKED = {
    "prediction": "The cat sits on the mat in the sun",
    "references": ["The cat sits on the soft mat under the warm sun"],
}


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "predictions.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_default_metric_prints_mean_and_ci(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, [json.dumps(WORKED)])
    assert main(["score", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("token_f1")
    assert "71.43" in out and "95% CI [71.43, 71.43]" in out and "n=1" in out


def test_json_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [json.dumps(WORKED), json.dumps({"prediction": "Paris", "references": ["paris", "Paris, France"]}), ""]
    path = _write(tmp_path, lines)
    assert main(["score", str(path), "--metric", "token_f1", "--metric", "exact_match", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data) == ["token_f1", "exact_match"]
    for result in data.values():
        assert set(result) == {"mean", "ci95", "n", "ci_method"}
        assert result["n"] == 2
        assert result["ci_method"] == "bootstrap"
        low, high = result["ci95"]
        assert 0 <= low <= result["mean"] <= high <= 100
    assert data["exact_match"]["mean"] == 50.0
    assert data["token_f1"]["mean"] == pytest.approx((100 * 10 / 14 + 100) / 2)


def test_same_seed_same_interval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [json.dumps({"prediction": f"answer {i % 3}", "references": ["answer 1"]}) for i in range(30)]
    path = _write(tmp_path, lines)
    assert main(["score", str(path), "--json", "--seed", "4"]) == 0
    first = capsys.readouterr().out
    assert main(["score", str(path), "--json", "--seed", "4"]) == 0
    assert first and capsys.readouterr().out == first


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('["a"]', "expected an object"),
        ('{"prediction": 1, "references": ["a"]}', '"prediction" must be a string'),
        ('{"prediction": "a", "references": []}', '"references" must be a non-empty list'),
        ('{"prediction": "a", "references": "a"}', '"references" must be a non-empty list'),
    ],
)
def test_bad_line_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, problem: str
) -> None:
    path = _write(tmp_path, [json.dumps(WORKED), line])
    assert main(["score", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"finetune score: {path}:2: ")
    assert problem in err
    assert "\n" not in err


def test_missing_and_empty_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", str(tmp_path / "absent.jsonl")]) == 2
    assert "absent.jsonl" in capsys.readouterr().err
    assert main(["score", str(_write(tmp_path, [""]))]) == 2
    assert "no examples" in capsys.readouterr().err


def test_unknown_metric_is_a_usage_error_listing_the_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, [json.dumps(WORKED)])
    with pytest.raises(SystemExit) as exit_info:
        main(["score", str(path), "--metric", "bleu"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    for name in ("token_f1", "exact_match", "accuracy", "macro_f1", "json_valid", "json_schema"):
        assert name in err


def test_json_schema_with_an_explicit_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"type": "object", "required": ["label"]}), encoding="utf-8")
    lines = [
        json.dumps({"prediction": '{"label": "x"}', "references": ["unused"]}),
        json.dumps({"prediction": '{"other": 1}', "references": ["unused"]}),
    ]
    path = _write(tmp_path, lines)
    assert main(["score", str(path), "--metric", "json_schema", "--schema", str(schema), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["json_schema"]["mean"] == 50.0
    schema.write_text(json.dumps({"type": "object", "minProperties": 1}), encoding="utf-8")
    assert main(["score", str(path), "--metric", "json_schema", "--schema", str(schema)]) == 2
    assert "minProperties" in capsys.readouterr().err


# ---- bounds: every size the user controls -----------------------------------------------------------------
def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(("resamples", "code"), [("99", 2), ("100", 0), ("100000", 0), ("100001", 2), ("-1", 2)])
def test_resamples_are_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str], resamples: str, code: int) -> None:
    path = _write(tmp_path, [json.dumps(WORKED)])
    assert main(["score", str(path), "--resamples", resamples]) == code
    if code == 2:
        expected = f"finetune score: --resamples must be from 100 to 100,000, got {resamples}"
        assert _one_line(capsys.readouterr().err) == expected


def test_help_states_the_resample_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["score", "--help"])
    assert exit_info.value.code == 0
    assert "100-100,000" in " ".join(capsys.readouterr().out.split())


def test_line_limit_is_the_validators(tmp_path: Path) -> None:
    from finetune.commands import score
    from pipeline_core.dataset.lines import DEFAULT_MAX_LINE_BYTES

    assert score.MAX_LINE_BYTES == DEFAULT_MAX_LINE_BYTES
    line = json.dumps(WORKED)
    path = _write(tmp_path, [line, line])
    size = len(line.encode())
    assert len(score.read_examples(path, max_line_bytes=size)[0]) == 2  # at the limit
    assert len(score.read_examples(path, max_line_bytes=size + 1)[0]) == 2
    with pytest.raises(score.InputError, match=rf"^{path}:1: line longer than {size - 1:,} bytes"):
        score.read_examples(path, max_line_bytes=size - 1)


def test_an_overlong_line_is_refused_naming_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline_core.dataset.lines import DEFAULT_MAX_LINE_BYTES

    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps(WORKED) + "\n")
        padding = DEFAULT_MAX_LINE_BYTES - len('{"prediction": "", "references": ["a"]}') + 1
        handle.write('{"prediction": "' + "x" * padding + '", "references": ["a"]}\n')
    assert main(["score", str(path)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"finetune score: {path}:2: line longer than {DEFAULT_MAX_LINE_BYTES:,} bytes")


def test_records_and_bytes_are_bounded(tmp_path: Path) -> None:
    from finetune.commands import score

    lines = [json.dumps(WORKED)] * 3
    path = _write(tmp_path, lines)
    assert len(score.read_examples(path, max_records=3)[0]) == 3  # at the limit
    with pytest.raises(score.InputError, match=rf"^{path}:3: more than 2 examples"):
        score.read_examples(path, max_records=2)
    size = path.stat().st_size
    assert len(score.read_examples(path, max_bytes=size)[0]) == 3
    with pytest.raises(score.InputError, match=rf"^{path}: larger than {size - 1:,} bytes"):
        score.read_examples(path, max_bytes=size - 1)
    assert (score.MAX_RECORDS, score.MAX_INPUT_BYTES) == (100_000, 256 * 1024 * 1024)


def test_the_cli_applies_the_record_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from finetune.commands import score

    path = _write(tmp_path, [json.dumps(WORKED)] * 3)
    monkeypatch.setattr(score, "MAX_RECORDS", 3)
    assert main(["score", str(path)]) == 0
    monkeypatch.setattr(score, "MAX_RECORDS", 2)
    assert main(["score", str(path)]) == 2
    assert "more than 2 examples" in _one_line(capsys.readouterr().err)


def test_stdin_is_read_for_a_dash(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    data = (json.dumps(WORKED) + "\n").encode()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert main(["score", "-", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["token_f1"]["n"] == 1
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data + b"{oops\n")))
    assert main(["score", "-"]) == 2
    assert _one_line(capsys.readouterr().err).startswith("finetune score: stdin:2: not valid JSON")


def test_deeply_nested_line_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, ["[" * 100_000 + "]" * 100_000])
    assert main(["score", str(path)]) == 2
    assert _one_line(capsys.readouterr().err) == f"finetune score: {path}:1: not valid JSON (nested too deeply)"


def test_schema_size_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from finetune.commands import score

    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"type": "object"}), encoding="utf-8")
    path = _write(tmp_path, [json.dumps({"prediction": "{}", "references": ["{}"]})])
    argv = ["score", str(path), "--metric", "json_schema", "--schema", str(schema)]
    monkeypatch.setattr(score, "MAX_SCHEMA_BYTES", schema.stat().st_size)
    assert main(argv) == 0
    monkeypatch.setattr(score, "MAX_SCHEMA_BYTES", schema.stat().st_size - 1)
    assert main(argv) == 2
    assert "a schema larger than" in _one_line(capsys.readouterr().err.splitlines()[-1])


# ---- numbers and large inputs ------------------------------------------------------------------------------
def test_tatqa_metrics_beside_token_f1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [
        json.dumps({"prediction": "-17.7%", "references": ["17.7%"]}),  # sign flipped
        json.dumps({"prediction": "6,577,000,000", "references": ["6,577 million"]}),  # same value
        json.dumps({"prediction": "cost and revenue", "references": ["Revenue, Cost"]}),  # F1 80, EM 0
    ]
    path = _write(tmp_path, lines)
    argv = ["score", str(path), "--metric", "tatqa_f1", "--metric", "tatqa_em", "--metric", "token_f1", "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    means = [data[name]["mean"] for name in ("tatqa_f1", "tatqa_em", "token_f1")]
    assert means == pytest.approx([(0 + 100 + 80) / 3, 100 / 3, (100 + 0 + 80) / 3])
    assert data["tatqa_f1"]["n"] == 3 and data["tatqa_f1"]["ci_method"] == "bootstrap"


@pytest.mark.parametrize(("examples", "method"), [(3, "bootstrap"), (4, "normal"), (5, "normal")])
def test_from_the_threshold_on_the_interval_is_the_normal_approximation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], examples: int, method: str
) -> None:
    from pipeline_core.metrics import stats

    monkeypatch.setattr(stats, "NORMAL_APPROXIMATION_MIN_N", 4)
    lines = [json.dumps({"prediction": "Paris" if i % 2 else "Rome", "references": ["Paris"]}) for i in range(examples)]
    path = _write(tmp_path, lines)
    assert main(["score", str(path), "--json", "--metric", "exact_match", "--metric", "macro_f1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["exact_match"]["ci_method"] == method
    assert data["macro_f1"]["ci_method"] == "bootstrap"  # a corpus statistic is always bootstrapped
    mean = data["exact_match"]["mean"]
    expected = stats.normal_mean([100.0 if i % 2 else 0.0 for i in range(examples)])
    if method == "normal":
        assert data["exact_match"]["ci95"] == [expected.ci_low, expected.ci_high]
    assert data["exact_match"]["ci95"][0] <= mean <= data["exact_match"]["ci95"][1]
    assert main(["score", str(path), "--metric", "exact_match"]) == 0
    assert ("(normal approximation)" in capsys.readouterr().out) == (method == "normal")


def test_help_states_how_the_interval_is_computed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "percentile bootstrap below 10,000 examples, normal approximation from 10,000" in text
