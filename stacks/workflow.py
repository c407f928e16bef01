"""The Step Functions workflow: one upload in, a promoted model or a clean rejection out.

Built from one fragment per stage; each fragment owns its Retry and Catch. The candidate is served by
Provisioned Throughput or, where its model allows, by an on-demand custom model deployment; every state
after either exists is caught and routed through `Delete throughput` (which deletes whichever kind
`$.throughput.kind` names) before the execution ends, unless the run is promoted.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from pipeline_core import contracts
from pipeline_core.admission import quota_retry
from stacks.retention import log_retention
from stacks.settings import PipelineSettings

# Lambda's own transient failures, as Step Functions names them
# (docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html), plus ours.
LAMBDA_TRANSIENT_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
    contracts.ERROR_TRANSIENT,
)


@dataclass(frozen=True)
class RetryPolicy:
    """The one retry policy of the workflow: exponential backoff with full jitter on transient errors."""

    errors: tuple[str, ...] = LAMBDA_TRANSIENT_ERRORS
    interval_seconds: int = 2
    max_attempts: int = 6
    backoff_rate: float = 2.0
    max_delay_seconds: int = 60
    # A Bedrock quota refusal on a creating call (QuotaExceeded) is waited out for at most this long, on its own
    # schedule (pipeline_core.admission.quota_retry); only the creating handlers raise it. 0: not retried.
    quota_wait_seconds: int = 0

    def apply(self, task: sfn.TaskStateBase, *, extra_errors: tuple[str, ...] = ()) -> sfn.TaskStateBase:
        task.add_retry(
            errors=[*self.errors, *extra_errors],
            interval=Duration.seconds(self.interval_seconds),
            max_attempts=self.max_attempts,
            backoff_rate=self.backoff_rate,
            max_delay=Duration.seconds(self.max_delay_seconds),
            jitter_strategy=sfn.JitterType.FULL,
        )
        quota = quota_retry(self.quota_wait_seconds)
        if quota is not None:
            # No jitter: the waits then add up to the documented bound exactly, not to a random share of it.
            task.add_retry(
                errors=[contracts.ERROR_QUOTA],
                interval=Duration.seconds(quota.interval_seconds),
                max_attempts=quota.max_attempts,
                backoff_rate=quota.backoff_rate,
                max_delay=Duration.seconds(quota.max_delay_seconds),
                jitter_strategy=sfn.JitterType.NONE,
            )
        return task


@dataclass(frozen=True)
class WorkflowFunctions:
    """The Lambda handlers the workflow calls, one per stage."""

    resolve_run: lambda_.IFunction
    validate_dataset: lambda_.IFunction
    train: lambda_.IFunction
    throughput: lambda_.IFunction
    evaluate: lambda_.IFunction
    aggregate: lambda_.IFunction
    promote: lambda_.IFunction
    #: Turns a failed run's $.error into the one sentence its notification and its Fail state carry.
    explain: lambda_.IFunction
    approval: lambda_.IFunction | None = None  # only with pipeline.approval.mode "required"


# State names read as a timeline a person would say aloud.
RECEIVE = "Receive upload"
RESOLVE = "Resolve run"
VALIDATE = "Validate dataset"
START_TRAINING = "Start training"
WAIT_TRAINING = "Wait for training"
CHECK_TRAINING = "Check training"
PROVISION = "Provision throughput"
WAIT_THROUGHPUT = "Wait for throughput"
CHECK_THROUGHPUT = "Check throughput"
SERVING_CHOICE = "Serve on demand?"
DEPLOY = "Deploy candidate"
WAIT_DEPLOYMENT = "Wait for deployment"
CHECK_DEPLOYMENT = "Check deployment"
DEPLOYMENT_FAILED = "Deployment did not come into service"
PLAN = "Plan evaluation"
EVALUATE = "Evaluate"
EVALUATE_BATCH = "Evaluate batch"
AGGREGATE = "Aggregate results"
GATE = "Quality gate"
PROMOTE = "Promote"
DELETE_THROUGHPUT = "Delete throughput"
STOP_TRAINING = "Stop training"
NOTIFY_SUCCESS = "Notify promotion"
NOTIFY_FAILURE = "Notify failure"
NOTIFY_CLEANUP_FAILURE = "Notify cleanup failure"
BOUND_APPROVAL_WAIT = "Bound approval wait"
REQUEST_APPROVAL = "Request approval"
APPROVAL_TIMED_OUT = "Approval timed out"
RECORD_APPROVAL = "Record approval"
APPROVED = "Approved?"
APPROVAL_REJECTED = "Approval rejected"
ERROR_APPROVAL_REJECTED = "ApprovalRejected"
EXPLAIN_FAILURE = "Explain failure"
EXPLAIN_CLEANUP_FAILURE = "Explain cleanup failure"
FAILURE_UNEXPLAINED = "Failure not explained"
CLEANUP_FAILURE_UNEXPLAINED = "Cleanup failure not explained"

#: Where the failure's sentence and report URI go ({reason, report}, pipeline_core.explain); the notification
#: and the Fail state's cause read them.
NOTICE_PATH = "$.notice"
#: The only fields a notification's message has: what happened, to which run, one sentence why, where the report
#: is (or null), and (promotions) the base model's lifecycle warnings. Never the state document: it holds the
#: system prompt, file names and error causes that may quote the dataset, and email is plain text.
NOTIFICATION_FIELDS = ("status", "run", "execution", "reason", "report", "warnings")
PROMOTED_REASON = "The fine-tuned model passed the quality gate and was promoted"
#: JSON null as a state's parameter: CDK leaves out a key whose Python value is None.
JSON_NULL = "States.StringToJson('null')"


class Workflow(Construct):
    """The Standard state machine, its encrypted log group and the notifications it publishes."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: PipelineSettings,
        functions: WorkflowFunctions,
        topic: sns.ITopic,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self._retry = RetryPolicy(quota_wait_seconds=settings.admission.quota_wait_minutes * 60)
        self._topic = topic
        self._fn = functions

        # The Fail states keep the error's name and give the sentence as the cause (`finetune status` shows it);
        # the raw $.error, stack trace included, stays in the execution history.
        failed = sfn.Fail(self, "Run failed", error_path="$.error.Error", cause_path=f"{NOTICE_PATH}.reason")
        notify_failure = self._explained(
            EXPLAIN_FAILURE, FAILURE_UNEXPLAINED, self._notify(NOTIFY_FAILURE, "FAILED").next(failed)
        )
        cleanup_failed = sfn.Fail(
            self, "Cleanup failed", error_path="$.error.Error", cause_path=f"{NOTICE_PATH}.reason"
        )
        notify_cleanup_failure = self._explained(
            EXPLAIN_CLEANUP_FAILURE,
            CLEANUP_FAILURE_UNEXPLAINED,
            self._notify(NOTIFY_CLEANUP_FAILURE, "CLEANUP_FAILED").next(cleanup_failed),
        )

        # ---- Cleanup paths (entered with $.error set) ---------------------------------------------------
        delete_throughput = self._invoke(
            DELETE_THROUGHPUT,
            functions.throughput,
            {"action": "delete", "run.$": "$.run", "throughput.$": "$.throughput"},
            result_path="$.cleanup",
        )
        delete_throughput.add_catch(notify_cleanup_failure, errors=["States.ALL"], result_path="$.cleanup_error")
        delete_throughput.next(notify_failure)

        stop_training = self._invoke(
            STOP_TRAINING,
            functions.train,
            {"action": "stop", "run.$": "$.run", "job.$": "$.job"},
            result_path="$.cleanup",
        )
        stop_training.add_catch(notify_cleanup_failure, errors=["States.ALL"], result_path="$.cleanup_error")
        stop_training.next(notify_failure)

        # ---- 1-2: resolve and validate ---------------------------------------------------------------------
        resolve = self._invoke(
            RESOLVE,
            functions.resolve_run,
            {
                "source.$": "$.source",
                "execution_name.$": "$$.Execution.Name",
                # The name alone comes back after 90 days; with the start time, Bedrock names stay unique.
                "execution_start_time.$": "$$.Execution.StartTime",
            },
            result_path="$.run",
        )
        validate = self._invoke(VALIDATE, functions.validate_dataset, {"run.$": "$.run"}, result_path="$.validation")
        dataset_rejected = sfn.Pass(
            self,
            "Dataset rejected",
            parameters={
                "Error": "InvalidDataset",
                # The step's reason names the failing rules with counts; the report lists every finding.
                "Cause": sfn.JsonPath.format(
                    "{}; report: {}",
                    sfn.JsonPath.string_at("$.validation.reason"),
                    sfn.JsonPath.string_at("$.validation.report_uri"),
                ),
            },
            result_path="$.error",
        ).next(notify_failure)
        for state in (resolve, validate):
            state.add_catch(notify_failure, errors=["States.ALL"], result_path="$.error")

        # ---- 3-4: train and check the job's own metrics ------------------------------------------------------
        start_training = self._invoke(
            START_TRAINING,
            functions.train,
            {"action": "start", "run.$": "$.run", "validation.$": "$.validation"},
            result_path="$.job",
        )
        wait_training = sfn.Wait(self, WAIT_TRAINING, time=sfn.WaitTime.seconds_path("$.run.poll.job_seconds"))
        check_training = self._invoke(
            CHECK_TRAINING,
            functions.train,
            {"action": "describe", "run.$": "$.run", "job.$": "$.job"},
            result_path="$.job",
        )
        for state in (start_training, check_training):
            state.add_catch(stop_training, errors=["States.ALL"], result_path="$.error")
        training_failed = self._ended_badly(
            "Training did not complete", "TrainingFailed", "Customization job", "$.job", "job_arn"
        ).next(notify_failure)
        metrics_rejected = sfn.Pass(
            self,
            "Training metrics rejected",
            parameters={"Error": "TrainingMetricsRejected", "Cause.$": "$.job.metrics_reason"},
            result_path="$.error",
        ).next(notify_failure)

        # ---- 5: Provisioned Throughput (from here on, every failure deletes it) ----------------------------
        provision = self._invoke(
            PROVISION,
            functions.throughput,
            {"action": "create", "run.$": "$.run", "job.$": "$.job"},
            result_path="$.throughput",
        )
        wait_throughput = sfn.Wait(
            self, WAIT_THROUGHPUT, time=sfn.WaitTime.seconds_path("$.run.poll.throughput_seconds")
        )
        check_throughput = self._invoke(
            CHECK_THROUGHPUT,
            functions.throughput,
            {"action": "describe", "run.$": "$.run", "throughput.$": "$.throughput"},
            result_path="$.throughput",
        )
        throughput_failed = self._ended_badly(
            "Throughput did not come into service", "ThroughputFailed", "Provisioned Throughput", "$.throughput", "arn"
        ).next(delete_throughput)

        # ---- 5 (on demand): a custom model deployment, billed per token; the same cleanup deletes it ---------
        deploy = self._invoke(
            DEPLOY,
            functions.throughput,
            {"action": "deploy", "run.$": "$.run", "job.$": "$.job"},
            result_path="$.throughput",
        )
        wait_deployment = sfn.Wait(
            self, WAIT_DEPLOYMENT, time=sfn.WaitTime.seconds_path("$.run.poll.throughput_seconds")
        )
        check_deployment = self._invoke(
            CHECK_DEPLOYMENT,
            functions.throughput,
            {"action": "describe", "run.$": "$.run", "throughput.$": "$.throughput"},
            result_path="$.throughput",
        )
        deployment_failed = self._ended_badly(
            DEPLOYMENT_FAILED, "DeploymentFailed", "Custom model deployment", "$.throughput", "arn"
        ).next(delete_throughput)
        # A run spec resolved before on-demand serving existed has no serving mode: Provisioned Throughput.
        serving_choice = (
            sfn.Choice(self, SERVING_CHOICE)
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present("$.run.serving.mode"),
                    sfn.Condition.string_equals("$.run.serving.mode", contracts.SERVING_ON_DEMAND),
                ),
                deploy,
            )
            .otherwise(provision)
        )

        # ---- 6-7: evaluate over the test set, aggregate ----------------------------------------------------
        plan = self._invoke(
            PLAN,
            functions.evaluate,
            {"action": "plan", "run.$": "$.run", "validation.$": "$.validation"},
            result_path="$.plan",
        )
        evaluate = sfn.DistributedMap(
            self,
            EVALUATE,
            # The bucket by path, not by construct: given a bucket, CDK grants s3:GetObject on all of it. The
            # pipeline stack grants the plan's own key pattern instead. (A plain "$..." string would render as a
            # literal bucket name: the path must be a JsonPath token.)
            item_reader=sfn.S3JsonItemReader(
                bucket_name_path=sfn.JsonPath.string_at("$.run.artifacts_bucket"),
                key=sfn.JsonPath.string_at("$.plan.key"),
            ),
            item_selector={
                "action": "batch",
                "run.$": "$.run",
                "batch.$": "$$.Map.Item.Value",
                "candidate_model_id.$": "$.throughput.arn",
            },
            # One batch in flight per unit of concurrency; each batch keeps one call in flight per model, so a
            # model sees at most this many concurrent requests. Read from the run so a manifest may lower it.
            max_concurrency_path="$.run.evaluation.concurrency",
            result_path=sfn.JsonPath.DISCARD,
            label="Evaluate",
        )
        evaluate.item_processor(
            self._invoke(
                EVALUATE_BATCH,
                functions.evaluate,
                {
                    "action": "batch",
                    "run.$": "$.run",
                    "batch.$": "$.batch",
                    "candidate_model_id.$": "$.candidate_model_id",
                },
                result_path=sfn.JsonPath.DISCARD,
            )
        )
        aggregate = self._invoke(
            AGGREGATE,
            functions.aggregate,
            {
                "run.$": "$.run",
                "validation.$": "$.validation",
                "job.$": "$.job",
                "throughput.$": "$.throughput",
                "plan.$": "$.plan",
            },
            result_path="$.evaluation",
        )
        candidate_rejected = sfn.Pass(
            self,
            "Candidate rejected",
            parameters={
                "Error": "CandidateRejected",
                "Cause": sfn.JsonPath.format(
                    "The fine-tuned model did not pass the quality gate: {}. Report: {}",
                    sfn.JsonPath.string_at("$.evaluation.reasons_text"),
                    sfn.JsonPath.string_at("$.evaluation.report_uri"),
                ),
            },
            result_path="$.error",
        ).next(delete_throughput)

        # ---- 8-9: promote and notify -------------------------------------------------------------------------
        promote = self._invoke(
            PROMOTE,
            functions.promote,
            {
                "run.$": "$.run",
                "job.$": "$.job",
                "throughput.$": "$.throughput",
                "evaluation.$": "$.evaluation",
                # Who approved, recorded with the promotion (only where approval is required).
                **({"approval.$": "$.approval"} if settings.approval.required else {}),
            },
            result_path="$.promotion",
        )
        succeeded = sfn.Succeed(self, "Run promoted")
        # A promoted run always has $.run, so its lifecycle warnings (a Legacy base model) lead the message.
        notify_success = self._notify(
            NOTIFY_SUCCESS, "PROMOTED", reason=PROMOTED_REASON, report="$.evaluation.report_uri", warnings=True
        )
        # If the success notification cannot be sent, the run still promoted: do not tear it down.
        notify_success.add_catch(succeeded, errors=["States.ALL"], result_path="$.notify_error")
        notify_success.next(succeeded)

        for state in (provision, check_throughput, deploy, check_deployment, plan, aggregate, promote):
            state.add_catch(delete_throughput, errors=["States.ALL"], result_path="$.error")
        evaluate.add_catch(delete_throughput, errors=["States.ALL"], result_path="$.error")

        # The cleanup states read $.job and $.throughput; give them empty values up front so a failure before
        # either exists still reaches its cleanup (the handlers then find the job or throughput by the name
        # derived from the execution). A missing JSONPath would be a States.Runtime error no Catch handles.
        receive = sfn.Pass(
            self,
            RECEIVE,
            parameters={"source.$": "$.source", "job": {}, "throughput": {}},
        )
        definition = (
            receive.next(resolve)
            .next(validate)
            .next(
                sfn.Choice(self, "Dataset valid?")
                .when(sfn.Condition.boolean_equals("$.validation.valid", False), dataset_rejected)
                .otherwise(start_training)
            )
        )
        start_training.next(wait_training).next(check_training).next(
            sfn.Choice(self, "Training finished?")
            .when(
                sfn.Condition.string_equals("$.job.status", "Completed"),
                self._metrics_gate(metrics_rejected, serving_choice),
            )
            .when(
                sfn.Condition.or_(
                    sfn.Condition.string_equals("$.job.status", "InProgress"),
                    sfn.Condition.string_equals("$.job.status", "Stopping"),
                ),
                wait_training,
            )
            .otherwise(training_failed)
        )
        provision.next(wait_throughput).next(check_throughput).next(
            sfn.Choice(self, "Throughput in service?")
            .when(sfn.Condition.string_equals("$.throughput.status", "InService"), plan)
            .when(
                sfn.Condition.or_(
                    sfn.Condition.string_equals("$.throughput.status", "Creating"),
                    sfn.Condition.string_equals("$.throughput.status", "Updating"),
                ),
                wait_throughput,
            )
            .otherwise(throughput_failed)
        )
        deploy.next(wait_deployment).next(check_deployment).next(
            sfn.Choice(self, "Deployment active?")
            .when(sfn.Condition.string_equals("$.throughput.status", "Active"), plan)
            .when(sfn.Condition.string_equals("$.throughput.status", "Creating"), wait_deployment)
            .otherwise(deployment_failed)
        )
        after_gate: sfn.IChainable = promote
        if settings.approval.required:
            assert functions.approval is not None, "approval required: pass the approval function"
            after_gate = self._approval(functions.approval, promote, delete_throughput)
        plan.next(evaluate).next(aggregate).next(
            sfn.Choice(self, GATE)
            .when(sfn.Condition.string_equals("$.evaluation.verdict", "promote"), after_gate)
            .otherwise(candidate_rejected)
        )
        promote.next(notify_success)

        self.log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            encryption_key=key,
            retention=log_retention(settings.retention.log_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=f"{settings.name}-pipeline",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=Duration.hours(settings.execution_timeout_hours),
            tracing_enabled=True,
            encryption_configuration=sfn.CustomerManagedEncryptionConfiguration(key),
            logs=sfn.LogOptions(
                destination=self.log_group,
                level=sfn.LogLevel.ALL,
                # Execution data can carry dataset excerpts in error causes; the history keeps it instead.
                include_execution_data=False,
            ),
        )

    def _invoke(
        self, name: str, function: lambda_.IFunction, payload: dict[str, object], *, result_path: str
    ) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self,
            name,
            lambda_function=function,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            retry_on_service_exceptions=False,  # the workflow's one retry policy covers them
            result_path=result_path,
            task_timeout=sfn.Timeout.duration(Duration.minutes(15)),
        )
        self._retry.apply(task)
        return task

    def _notify(
        self,
        name: str,
        status: str,
        *,
        reason: str = f"{NOTICE_PATH}.reason",
        report: str | None = f"{NOTICE_PATH}.report",
        warnings: bool = False,
    ) -> tasks.SnsPublish:
        """Publish ``{status, run, execution, reason, report, warnings?}`` (NOTIFICATION_FIELDS), nothing else.

        ``reason`` and ``report`` are JSONPaths (starting with "$") or literal values; by default the sentence and
        report URI an explain state wrote. Every path must exist when the state runs: a missing one is a
        States.Runtime error that no Catch handles.
        """

        def field(key: str, value: str | None) -> dict[str, str]:
            if value is None:
                return {f"{key}.$": JSON_NULL}
            return {f"{key}.$": value} if value.startswith("$") else {key: value}

        message: dict[str, object] = {
            "status": status,
            "run.$": "$.source.run_name",
            "execution.$": "$$.Execution.Id",
            **field("reason", reason),
            **field("report", report),
            **({"warnings.$": "$.run.warnings"} if warnings else {}),
        }
        task = tasks.SnsPublish(
            self,
            name,
            topic=self._topic,
            subject=f"Bedrock fine-tuning run {status.lower().replace('_', ' ')}",
            message=sfn.TaskInput.from_object(message),
            result_path=sfn.JsonPath.DISCARD,
        )
        self._retry.apply(task, extra_errors=("SNS.SdkClientException", "SNS.InternalErrorException"))
        return task

    def _explained(self, name: str, fallback: str, then: sfn.IChainable) -> sfn.Chain:
        """``then`` preceded by the explain Lambda writing {reason, report} to NOTICE_PATH from the whole state.

        The whole state, because a failure can come from any stage and a Task parameter naming a missing field would
        fail the execution before anyone is told. Should the explain Lambda itself fail, a fixed sentence stands in:
        the notification is sent either way.
        """
        explain = self._invoke(name, self._fn.explain, {"state.$": "$"}, result_path=NOTICE_PATH)
        unexplained = sfn.Pass(
            self,
            fallback,
            parameters={
                "reason": "The run failed, and its error could not be put in words; the execution history has it",
                "report.$": JSON_NULL,
            },
            result_path=NOTICE_PATH,
        )
        explain.add_catch(unexplained, errors=["States.ALL"], result_path="$.explain_error")
        unexplained.next(then)
        return sfn.Chain.start(explain).next(then)

    def _approval(
        self, function: lambda_.IFunction, promote: sfn.IChainable, cleanup: sfn.IChainable
    ) -> sfn.IChainable:
        """Wait for a person's decision (a task token `finetune approve`/`reject` answers), bounded by
        `$.run.approval.timeout_seconds`; record it in the report; promote, or reject and delete the throughput.

        Every way out but approval reaches `cleanup`: a rejection, the timeout, and the request itself failing
        (its token could not be stored or the notification not sent: nobody could answer it).

        `Bound approval wait` first cuts `$.run.approval.timeout_seconds` so the wait ends before the execution
        times out with time left for cleanup (an execution that times out runs no Catch); TimeoutSecondsPath is
        read when `Request approval` starts, so the value is computed in the state just before it."""
        bound = self._invoke(
            BOUND_APPROVAL_WAIT, function, {"action": "bound", "run.$": "$.run"}, result_path="$.run.approval"
        )
        bound.add_catch(cleanup, errors=["States.ALL"], result_path="$.error")
        request = tasks.LambdaInvoke(
            self,
            REQUEST_APPROVAL,
            lambda_function=function,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object(
                {
                    "action": "request",
                    "task_token": sfn.JsonPath.task_token,
                    "execution_arn.$": "$$.Execution.Id",
                    "run.$": "$.run",
                    "evaluation.$": "$.evaluation",
                }
            ),
            retry_on_service_exceptions=False,
            # The output is what SendTaskSuccess sends: {decision, decided_by, decided_at, reason}.
            result_path="$.approval",
            task_timeout=sfn.Timeout.at("$.run.approval.timeout_seconds"),
        )
        self._retry.apply(request)
        timed_out = sfn.Pass(
            self,
            APPROVAL_TIMED_OUT,
            parameters={"decision": "timeout", "decided_at.$": "$$.State.EnteredTime"},
            result_path="$.approval",
        )
        record = self._invoke(
            RECORD_APPROVAL,
            function,
            {"action": "record", "run.$": "$.run", "evaluation.$": "$.evaluation", "approval.$": "$.approval"},
            result_path="$.approval",
        )
        rejected = sfn.Pass(
            self,
            APPROVAL_REJECTED,
            parameters={"Error": ERROR_APPROVAL_REJECTED, "Cause.$": "$.approval.reason"},
            result_path="$.error",
        ).next(cleanup)
        request.add_catch(timed_out, errors=["States.Timeout"], result_path="$.approval_error")
        request.add_catch(cleanup, errors=["States.ALL"], result_path="$.error")
        record.add_catch(cleanup, errors=["States.ALL"], result_path="$.error")
        bound.next(request)
        request.next(record)
        timed_out.next(record)
        record.next(
            sfn.Choice(self, APPROVED)
            .when(sfn.Condition.string_equals("$.approval.decision", "approve"), promote)
            .otherwise(rejected)
        )
        return bound

    def _ended_badly(self, name: str, error: str, noun: str, path: str, arn_field: str) -> sfn.Pass:
        """Turn a resource's terminal failure status into $.error, e.g. "Customization job X ended Failed: ..."."""
        return sfn.Pass(
            self,
            name,
            parameters={
                "Error": error,
                "Cause": sfn.JsonPath.format(
                    noun + " {} ended {}: {}",
                    sfn.JsonPath.string_at(f"{path}.{arn_field}"),
                    sfn.JsonPath.string_at(f"{path}.status"),
                    sfn.JsonPath.string_at(f"{path}.failure_message"),
                ),
            },
            result_path="$.error",
        )

    def _metrics_gate(self, rejected: sfn.IChainable, accepted: sfn.IChainable) -> sfn.Choice:
        return (
            sfn.Choice(self, "Training metrics acceptable?")
            .when(sfn.Condition.boolean_equals("$.job.metrics_passed", False), rejected)
            .otherwise(accepted)
        )
