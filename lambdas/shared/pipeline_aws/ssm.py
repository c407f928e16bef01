"""Reading the promotion record's SSM parameter: its value, or None when nothing has been promoted yet.

Promote, the throughput handler (before any delete) and the janitor all read it; each decides for itself what a
value it cannot parse means. The stack creates the parameter holding `contracts.PROMOTION_PLACEHOLDER`, which
reads as None here exactly like a parameter that does not exist (a stack deployed before the parameter was part
of it).
"""

from __future__ import annotations

from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import is_code, transient_errors
from pipeline_core import contracts


def read_parameter(name: str) -> str | None:
    """The parameter's value; None if it does not exist or holds the placeholder the stack creates it with.

    Throttling and 5xx raise TransientServiceError.
    """
    try:
        with transient_errors():
            value = str(CLIENTS.ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except Exception as err:
        if is_code(err, "ParameterNotFound"):
            return None
        raise
    return None if value.strip() == contracts.PROMOTION_PLACEHOLDER else value
