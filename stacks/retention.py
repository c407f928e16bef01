"""Maps the validated retention setting (days) onto CDK's RetentionDays enum."""

from __future__ import annotations

from aws_cdk import aws_logs as logs

from stacks.settings import LOG_RETENTION_DAYS

# RetentionDays lists CloudWatch's allowed periods in ascending order, INFINITE last.
_BY_DAYS = dict(
    zip(LOG_RETENTION_DAYS, [m for m in logs.RetentionDays if m is not logs.RetentionDays.INFINITE], strict=True)
)


def log_retention(days: int) -> logs.RetentionDays:
    return _BY_DAYS[days]
