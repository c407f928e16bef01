"""boto3 clients created once per container on first use, replaceable by tests (`CLIENTS.set("s3", stub)`).

Creating clients lazily keeps imports free of AWS configuration; reusing them across invocations avoids the
per-call cost the Lambda best practices warn about
(docs.aws.amazon.com/lambda/latest/dg/best-practices.html, "Initialize SDK clients outside the handler").
"""

from __future__ import annotations

from typing import Any

# botocore's own retries stay on ("standard" mode, 3 attempts) for brief blips; what survives them becomes a
# TransientServiceError, which the workflow retries with a longer backoff.
_RETRIES = {"mode": "standard", "max_attempts": 3}
# Explicit socket timeouts instead of botocore's 60 s defaults: a hung connection fails in seconds, so one slow call
# cannot use up a function's time (Promote keeps PROMOTE_BUDGET_SECONDS for its calls; a Lambda timeout is not
# retried). The read timeout bounds the wait for each response read, not a whole transfer; none of these clients
# serves a long-running call (bedrock-runtime Converse, which can take longer, has its own client in
# evaluate/handler.py). Defaults: botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html
# (read 2026-12-01).
CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 30


class Clients:
    """A holder of boto3 clients by service name."""

    def __init__(self) -> None:
        self._clients: dict[str, Any] = {}

    def get(self, service: str) -> Any:
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            self._clients[service] = boto3.client(
                service,
                config=Config(
                    retries=_RETRIES,
                    connect_timeout=CONNECT_TIMEOUT_SECONDS,
                    read_timeout=READ_TIMEOUT_SECONDS,
                ),
            )
        return self._clients[service]

    def set(self, service: str, client: Any) -> None:
        """Use `client` for `service` (a moto-backed or Stubber-wrapped client in tests)."""
        self._clients[service] = client

    def reset(self) -> None:
        self._clients.clear()

    @property
    def s3(self) -> Any:
        return self.get("s3")

    @property
    def bedrock(self) -> Any:
        return self.get("bedrock")

    @property
    def sfn(self) -> Any:
        return self.get("stepfunctions")

    @property
    def ssm(self) -> Any:
        return self.get("ssm")

    @property
    def cloudwatch(self) -> Any:
        return self.get("cloudwatch")


CLIENTS = Clients()
