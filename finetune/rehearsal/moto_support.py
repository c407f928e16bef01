"""How to run moto and the Bedrock stand-in in one process: moto's passthrough configuration for loopback URLs.

moto 5.2.5 intercepts every botocore request (a ``before-send`` hook) and answers those whose URL matches one of
its service URL patterns. A request to the stand-in (``http://127.0.0.1:<port>/...``) matches none of them and
would go out anyway, but saying so explicitly keeps it working if a moto backend ever grows a catch-all pattern.
The keys are moto's own, from ``moto/core/config.py``: ``core.passthrough.urls`` is a list of regexes
``re.match``-ed against ``scheme://host:port/path`` (query string removed); ``core.passthrough.services`` lists
botocore service names that moto must not answer at all (moto's own Bedrock would otherwise answer
``bedrock`` calls sent to ``*.amazonaws.com``).

``mock_aws(config=...)`` *replaces* each top-level section it is given (a shallow ``dict.update``), so the
``core`` section here repeats moto's defaults for the keys it does not change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

#: Matches any request to a loopback HTTP server on any port: the stand-in binds an ephemeral port on 127.0.0.1.
LOOPBACK_URL_PATTERN = r"http://127\.0\.0\.1:\d+/.*"


def moto_passthrough_config(
    urls: Sequence[str] = (LOOPBACK_URL_PATTERN,),
    services: Sequence[str] = (),
    extra: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``config`` for ``moto.mock_aws`` that lets requests to the stand-in (and Bedrock) through.

    ``extra`` adds other sections, e.g. ``{"stepfunctions": {"execute_state_machine": True}}``; a ``core`` section
    in it is merged key by key.
    """
    core: dict[str, Any] = {
        "mock_credentials": True,
        "passthrough": {"urls": list(urls), "services": list(services)},
        "reset_boto3_session": True,
        "service_whitelist": None,
    }
    config: dict[str, Any] = {key: dict(value) for key, value in (extra or {}).items() if key != "core"}
    config["core"] = {**core, **dict((extra or {}).get("core", {}))}
    return config


@contextlib.contextmanager
def moto_with_passthrough(extra: Mapping[str, Mapping[str, Any]] | None = None) -> Iterator[None]:
    """``moto.mock_aws`` with :func:`moto_passthrough_config`; moto is imported only when this is used."""
    from moto import mock_aws

    with mock_aws(config=cast(Any, moto_passthrough_config(extra=extra))):
        yield
