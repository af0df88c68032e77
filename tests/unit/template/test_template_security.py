"""What "deployable and secure" means for template.yaml, read from the template CloudFormation
gets (after the SAM transform): least-privilege IAM, execution logging without data, the archive
bucket locked down, an alarm for every failure that would otherwise go unseen."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.deploy import load_template
from tests.unit.template.tools import TEMPLATE, transformed

CFN = transformed()
RESOURCES: dict[str, Any] = CFN["Resources"]


def _of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {lid: r.get("Properties", {}) for lid, r in RESOURCES.items() if r["Type"] == kind}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(resources: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for lid, resource in resources.items():
        props = resource.get("Properties", {})
        documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        if resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            documents.append(props["PolicyDocument"])
        for document in documents:
            for statement in _as_list(document["Statement"]):
                yield lid, statement


def wildcard_grants(resources: dict[str, Any]) -> list[str]:
    """Allow statements granting every action, or every action of a service, on every resource."""
    found = []
    for lid, statement in _statements(resources):
        actions = [a for a in _as_list(statement.get("Action", [])) if isinstance(a, str)]
        if statement.get("Effect") == "Allow" and "*" in _as_list(statement.get("Resource")) and any(
            a == "*" or a.endswith(":*") for a in actions
        ):
            found.append(f"{lid}: {actions}")
    return found


def test_no_role_or_policy_allows_any_action_on_any_resource() -> None:
    assert len(list(_statements(RESOURCES))) > 20  # the roles SAM generates are in there
    assert wildcard_grants(RESOURCES) == []


def test_the_wildcard_check_finds_a_wildcard() -> None:
    bad = {"R": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyDocument": {"Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "dynamodb:*"], "Resource": "*"}]}}]}}}
    assert wildcard_grants(bad) == ["R: ['s3:GetObject', 'dynamodb:*']"]


MACHINES = _of_type("AWS::StepFunctions::StateMachine")


def _states_grants() -> dict[str, list[tuple[tuple[str, ...], list[Any]]]]:
    """Role -> (actions, resources) of each statement granting a `states:` action, the managed
    policies attached to the role included."""
    managed = {lid: [s for _, s in _statements({lid: r})] for lid, r in RESOURCES.items()
               if r["Type"] == "AWS::IAM::ManagedPolicy"}
    found: dict[str, list[tuple[tuple[str, ...], list[Any]]]] = {}
    for lid, resource in RESOURCES.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        statements = [s for _, s in _statements({lid: resource})]
        for arn in resource["Properties"].get("ManagedPolicyArns", []):
            if isinstance(arn, dict) and arn.get("Ref") in managed:
                statements += managed[arn["Ref"]]
        for statement in statements:
            actions = tuple(sorted(a for a in _as_list(statement["Action"]) if a.startswith("states:")))
            if actions:
                found.setdefault(lid, []).append((actions, _as_list(statement["Resource"])))
    return found


def test_functions_start_and_complete_only_the_approval_machines() -> None:
    names = sorted(p["StateMachineName"] for p in MACHINES.values())
    arn = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:"
    machines = [{"Fn::Sub": arn + name} for name in names]
    grants = _states_grants()
    start, complete = ("states:StartExecution",), ("states:SendTaskFailure", "states:SendTaskSuccess")
    assert grants["StartFunctionRole"] == [(start, machines)]
    assert grants["ApiFunctionRole"] == [(start, machines), (complete, machines)]
    assert grants["SweepFunctionRole"] == [(start, machines), (complete, machines)]  # it restarts and completes
    assert grants["OpenStepFunctionRole"] == [(complete, machines)]
    assert "FinishFunctionRole" not in grants and "NotifyFunctionRole" not in grants


@pytest.mark.parametrize("logical_id", sorted(MACHINES))
def test_machine_logs_errors_without_execution_data_and_may_trace(logical_id: str) -> None:
    props = MACHINES[logical_id]
    logging = props["LoggingConfiguration"]
    assert logging["Level"] in ("ERROR", "ALL")
    assert logging["IncludeExecutionData"] is False
    assert logging["Destinations"] == [
        {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": ["StateMachineLogGroup", "Arn"]}}}]
    assert props["TracingConfiguration"] == {"Enabled": {"Fn::If": ["TracingOn", True, False]}}
    assert RESOURCES["StateMachineLogGroup"]["Properties"]["RetentionInDays"] >= 365


ALARMS = _of_type("AWS::CloudWatch::Alarm")


def _alarmed(namespace: str, metric: str) -> list[Any]:
    return [a["Dimensions"][0]["Value"] for a in ALARMS.values()
            if a["Namespace"] == namespace and a["MetricName"] == metric]


def test_every_machine_has_a_failed_executions_alarm() -> None:
    assert MACHINES
    assert sorted(v["Ref"] for v in _alarmed("AWS/States", "ExecutionsFailed")) == sorted(MACHINES)


def test_every_function_has_a_throttles_alarm_and_a_dead_letter_queue() -> None:
    functions = _of_type("AWS::Lambda::Function")
    assert sorted(v["Ref"] for v in _alarmed("AWS/Lambda", "Throttles")) == sorted(functions)
    for name, props in functions.items():
        # ExecutionEndedFunction's are the sweep's to settle (sweeps/ended_runs.py).
        queue = "ExecutionEndedRetryQueue" if name == "ExecutionEndedFunction" else "DeadLetterQueue"
        assert props["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": [queue, "Arn"]}}
    assert _alarmed("AWS/SQS", "ApproximateNumberOfMessagesVisible") == [
        {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}]
    assert _alarmed("AWS/SQS", "ApproximateAgeOfOldestMessage") == [
        {"Fn::GetAtt": ["ExecutionEndedRetryQueue", "QueueName"]}]


def test_alarms_notify_the_topic_when_one_is_given() -> None:
    topic = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    assert ALARMS
    for props in ALARMS.values():
        assert props["AlarmActions"] == topic


def test_archive_bucket_is_encrypted_versioned_private_and_tiered() -> None:
    resource = RESOURCES["ArchiveBucket"]
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
    props = resource["Properties"]
    encryption = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    transitions = [t for rule in props["LifecycleConfiguration"]["Rules"] for t in rule.get("Transitions", [])]
    assert transitions == [{"StorageClass": "GLACIER_IR", "TransitionInDays": 90}]


def test_archive_bucket_refuses_plain_http() -> None:
    policy = RESOURCES["ArchiveBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "ArchiveBucket"}
    denials = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert {"Bool": {"aws:SecureTransport": "false"}} in [s["Condition"] for s in denials]
    for statement in denials:
        assert statement["Principal"] == "*" and statement["Action"] == "s3:*"
        assert statement["Resource"] == [{"Fn::GetAtt": ["ArchiveBucket", "Arn"]},
                                         {"Fn::Sub": "${ArchiveBucket.Arn}/*"}]


def test_tracing_is_a_parameter_and_off_by_default() -> None:
    template = load_template(TEMPLATE)
    assert template["Parameters"]["Tracing"]["Default"] == "PassThrough"
    assert template["Globals"]["Function"]["Tracing"] == {"Ref": "Tracing"}
    assert template["Conditions"]["TracingOn"] == {"Fn::Equals": [{"Ref": "Tracing"}, "Active"]}


def test_no_api_route_but_health_goes_without_the_authorizer() -> None:
    """Every API event of every function is behind the default (JWT) authorizer, except health."""
    sam = load_template(TEMPLATE)
    open_routes = []
    for resource in sam["Resources"].values():
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            props = event.get("Properties", {})
            if event.get("Type") == "Api" and (props.get("Auth") or {}).get("Authorizer") == "NONE":
                open_routes.append((props["Method"], props["Path"]))
    assert open_routes == [("GET", "/v1/health")]
    api = sam["Resources"]["ApprovalsApi"]["Properties"]
    assert api["Auth"]["DefaultAuthorizer"] == "CognitoAuthorizer"
