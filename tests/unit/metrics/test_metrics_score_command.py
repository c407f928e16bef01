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
        assert set(result) == {"mean", "ci95", "n"}
        assert result["n"] == 2
        low, high = result["ci95"]
        assert 0 <= low <= result["mean"] <= high <= 100
    assert data["exact_match"]["mean"] == 50.0
    assert data["token_f1"]["mean"] == pytest.approx((100 * 10 / 14 + 100) / 2)


def test_same_seed_same_interval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [json.dumps({"prediction": f"answer {i % 3}", "references": ["answer 1"]}) for i in range(30)]
    path = _write(tmp_path, lines)
    main(["score", str(path), "--json", "--seed", "4"])
    first = capsys.readouterr().out
    main(["score", str(path), "--json", "--seed", "4"])
    assert capsys.readouterr().out == first


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
