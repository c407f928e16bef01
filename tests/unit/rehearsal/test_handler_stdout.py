"""What a handler invocation prints goes to the handler log; what the rehearsal's caller prints stays on its stdout."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from finetune.rehearsal.moto_patches import LocalFunction, LocalLambda
from finetune.rehearsal.runner import _handler_logs


def _printing(document: dict[str, object]) -> LocalFunction:
    def handler(event: object, context: object) -> dict[str, bool]:
        print(json.dumps(document))  # as metrics.flush prints an EMF document
        return {"ok": True}

    return LocalFunction(name="f", arn="arn:aws:lambda:us-west-2:123456789012:function:f", folder="f", handler=handler)


def test_the_callers_prints_stay_on_its_stdout_and_the_handlers_go_to_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "handlers.log"
    function = _printing({"_aws": {}, "run": "demo"})
    with _handler_logs(log):
        print("before")
        LocalLambda({"f": function}).invoke(function, b"{}", {})
        print("after")  # e.g. `finetune status` in an after_run hook
    assert capsys.readouterr().out == "before\nafter\n"
    assert [json.loads(line) for line in log.read_text().splitlines()] == [{"_aws": {}, "run": "demo"}]
    print("outside")
    assert capsys.readouterr().out == "outside\n"


def test_invocations_on_other_threads_never_take_the_callers_stdout_and_keep_whole_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "handlers.log"
    documents = [{"_aws": {}, "batch": index, "text": "x" * 2000} for index in range(16)]
    functions = [_printing(document) for document in documents]
    local = LocalLambda({str(i): f for i, f in enumerate(functions)})
    with _handler_logs(log):
        threads = [threading.Thread(target=local.invoke, args=(f, b"{}", {})) for f in functions]
        for thread in threads:
            thread.start()
        for index in range(50):  # the caller prints while moto's threads run states
            print(f"caller {index}")
        for thread in threads:
            thread.join()
    assert capsys.readouterr().out == "".join(f"caller {index}\n" for index in range(50))
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(lines, key=lambda line: int(str(line["batch"]))) == documents


def test_a_handler_that_raises_still_leaves_the_caller_its_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing(event: object, context: object) -> None:
        print("half a line", end="")  # the log gets it once the line is whole
        raise RuntimeError("boom")

    function = LocalFunction(
        name="f", arn="arn:aws:lambda:us-west-2:123456789012:function:f", folder="f", handler=failing
    )
    headers: dict[str, str] = {}
    with _handler_logs(tmp_path / "handlers.log"):
        LocalLambda({"f": function}).invoke(function, b"{}", headers)
        print("caller")
    assert headers["x-amz-function-error"] == "Unhandled"
    assert capsys.readouterr().out == "caller\n"
