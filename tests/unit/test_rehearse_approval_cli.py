"""`finetune rehearse --approval`: the rehearsal requires approval and answers it as chosen."""

from __future__ import annotations

from typing import Any

import pytest

from finetune.cli import main
from finetune.commands import rehearse as rehearse_cmd
from tests.unit.test_rehearse_cli import REACHED, _one_line, started  # noqa: F401  (started is a fixture)


@pytest.mark.parametrize(
    ("answer", "timeout"),
    [("approve", None), ("reject", None), ("timeout", rehearse_cmd.APPROVAL_TIMEOUT_SECONDS)],
)
def test_each_answer_requires_approval_and_is_passed_on(
    started: list[Any],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    answer: str,
    timeout: int | None,
) -> None:
    assert main(["rehearse", "--approval", answer]) == 2
    assert _one_line(capsys).endswith(REACHED)
    (options,) = started
    assert options.approval == answer and options.approval_timeout_seconds == timeout
    assert options.settings_overrides["approval"] == {"mode": "required", "timeoutHours": 1}


def test_without_the_option_nothing_waits(started: list[Any], capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    main(["rehearse"])
    (options,) = started
    assert options.approval is None and "approval" not in options.settings_overrides


def test_an_unknown_answer_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["rehearse", "--approval", "maybe"])
    assert exit_.value.code == 2
    assert "invalid choice: 'maybe'" in capsys.readouterr().err
