"""Admission control: the queue table runs wait in, and the dispatcher that starts them as slots free.

The trigger queues every upload and starts it at once only while fewer than the run limit are running; the
dispatcher runs on every end of an execution (EventBridge "Step Functions Execution Status Change") and on a
schedule (the recovery path: those events are delivered best effort), and starts the oldest queued runs.
DESIGN.md, "Admission control", says why this shape.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from pipeline_core import contracts
from stacks.data_plane import account_arn
from stacks.lambda_function import PipelineFunction
from stacks.nag import acknowledge

# The calls pipeline_aws.admission makes; TransactWriteItems is authorized as its Put/Update/Delete parts
# (docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html, read 2026-12-01).
QUEUE_ACTIONS = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"]
# Executions that ended without an event (best-effort delivery) or a lost wake-up are picked up this often.
RECOVERY_MINUTES = 5
ENDED_STATUSES = ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]


class Admission(Construct):
    """The queue table, the dispatcher function and its two rules; `admit` wires the trigger to them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        state_machine: sfn.StateMachine,
        dispatcher: PipelineFunction,
        dead_letter_queue: sqs.IQueue,
        run_slots: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.run_slots = run_slots
        self.state_machine = state_machine
        self.table = dynamodb.Table(
            self,
            "Queue",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Run markers expire when Step Functions frees their execution name (90 days).
            time_to_live_attribute="expires_at",
            removal_policy=RemovalPolicy.RETAIN,
        )
        for rule in ("HIPAA.Security-DynamoDBInBackupPlan", "NIST.800.53.R5-DynamoDBInBackupPlan"):
            acknowledge(
                self.table.node.default_child,  # type: ignore[arg-type]
                rule,
                "The table holds only runs waiting for a slot, for minutes to hours; point-in-time recovery covers "
                "its 35 days, and every queued run can be queued again by uploading its file again (S3 keeps it).",
            )
        self.dispatcher = dispatcher
        self.admit(dispatcher)
        events.Rule(
            self,
            "RunEnded",
            description="Starts queued runs when an execution of the pipeline ends",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={"stateMachineArn": [state_machine.state_machine_arn], "status": ENDED_STATUSES},
            ),
            targets=[
                targets.LambdaFunction(
                    dispatcher.function,
                    dead_letter_queue=dead_letter_queue,
                    retry_attempts=8,
                    max_event_age=Duration.hours(2),
                )
            ],
        )
        events.Rule(
            self,
            "Recovery",
            description="Starts queued runs whose slot freed without an event reaching the dispatcher",
            schedule=events.Schedule.rate(Duration.minutes(RECOVERY_MINUTES)),
            targets=[
                targets.LambdaFunction(dispatcher.function, dead_letter_queue=dead_letter_queue, retry_attempts=2)
            ],
        )

    def environment(self) -> dict[str, str]:
        return {
            contracts.ENV_ADMISSION_TABLE: self.table.table_name,
            contracts.ENV_MAX_CONCURRENT_RUNS: str(self.run_slots),
            contracts.ENV_STATE_MACHINE_ARN: self.state_machine.state_machine_arn,
        }

    def admit(self, fn: PipelineFunction) -> None:
        """Let `fn` queue runs and dispatch them: the table (by ARN, no index), and only this state machine."""
        for name, value in self.environment().items():
            fn.function.add_environment(name, value)
        fn.role.add_to_policy(iam.PolicyStatement(actions=QUEUE_ACTIONS, resources=[self.table.table_arn]))
        fn.role.add_to_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution", "states:ListExecutions"],
                resources=[self.state_machine.state_machine_arn],
            )
        )
        # DescribeExecution authorizes on the execution ARN: the executions of this state machine only.
        executions = f"{account_arn('states')}:execution:{self.state_machine.state_machine_name}:*"
        fn.role.add_to_policy(iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[executions]))
