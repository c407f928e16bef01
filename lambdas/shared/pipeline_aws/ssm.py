"""Reading the promotion record's SSM parameter: its value, or None when nothing has been written yet.

Promote, the throughput handler (before any delete) and the janitor all read it; each decides for itself what a
value it cannot parse means.
"""

from __future__ import annotations

from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import is_code, transient_errors


def read_parameter(name: str) -> str | None:
    """The parameter's value; None if it does not exist. Throttling and 5xx raise TransientServiceError."""
    try:
        with transient_errors():
            return str(CLIENTS.ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except Exception as err:
        if is_code(err, "ParameterNotFound"):
            return None
        raise
