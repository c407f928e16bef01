"""The rehearsal's part of admission control: the queue table in moto, and EventBridge's delivery of execution ends.

moto's EventBridge never invokes a Lambda target, so `EndRelay` does what the "Step Functions Execution Status
Change" rule does in AWS: for each execution of the state machine seen ending, it invokes the dispatcher function
with the event EventBridge would deliver (docs.aws.amazon.com/step-functions/latest/dg/eventbridge-integration.html,
read 2026-12-01).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .template import TemplateResolver, find_resources

ENDED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def create_tables(resolver: TemplateResolver, template: Mapping[str, Any], stack: str, region: str) -> dict[str, str]:
    """Create the template's DynamoDB tables in moto (keys and TTL as the template says); logical id -> name."""
    import boto3

    dynamodb = boto3.client("dynamodb", region_name=region)
    created: dict[str, str] = {}
    for logical_id, table in find_resources(template, "AWS::DynamoDB::Table").items():
        props = table["Properties"]
        name = str(props.get("TableName") or f"{stack}-{logical_id}")
        dynamodb.create_table(
            TableName=name,
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
        )
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        created[logical_id] = name
    return created


def status_change_event(
    execution: Mapping[str, Any], state_machine_arn: str, region: str, account: str
) -> dict[str, Any]:
    """The EventBridge event of an execution's end, as Step Functions sends it."""
    return {
        "version": "0",
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "account": account,
        "region": region,
        "resources": [execution["executionArn"]],
        "detail": {
            "executionArn": execution["executionArn"],
            "stateMachineArn": state_machine_arn,
            "name": execution["name"],
            "status": execution["status"],
            **({"input": execution["input"]} if "input" in execution else {}),
        },
    }


class EndRelay:
    """Delivers each execution end to the dispatcher once, as the status-change rule would."""

    def __init__(self, sfn: Any, lambda_client: Any, dispatcher_arn: str, state_machine_arn: str, region: str,
                 account: str) -> None:  # fmt: skip
        self.sfn, self.lambda_client = sfn, lambda_client
        self.dispatcher_arn, self.state_machine_arn = dispatcher_arn, state_machine_arn
        self.region, self.account = region, account
        self.delivered: set[str] = set()
        self.results: list[dict[str, Any]] = []

    def poll(self) -> int:
        """Deliver the ends not delivered yet; how many were delivered."""
        count = 0
        pages = self.sfn.get_paginator("list_executions").paginate(stateMachineArn=self.state_machine_arn)
        for execution in (e for page in pages for e in page["executions"]):
            if execution["status"] in ENDED and execution["executionArn"] not in self.delivered:
                self.delivered.add(execution["executionArn"])
                # The event carries the execution's input (ListExecutions does not): DescribeExecution has it.
                described = self.sfn.describe_execution(executionArn=execution["executionArn"])
                execution = {**execution, "input": described.get("input")}
                self.deliver(status_change_event(execution, self.state_machine_arn, self.region, self.account))
                count += 1
        return count

    def deliver(self, event: Mapping[str, Any]) -> dict[str, Any]:
        response = self.lambda_client.invoke(FunctionName=self.dispatcher_arn, Payload=json.dumps(event))
        payload: dict[str, Any] = json.loads(response["Payload"].read())
        if response.get("FunctionError"):
            payload = {"error": f"{payload.get('errorType')}: {payload.get('errorMessage')}"}
        self.results.append(payload)
        return payload
