"""The archive's tamper evidence and the API's and the dead letters' trail, read from the template
CloudFormation gets (after the SAM transform): Object Lock on the archive bucket, a signing key
only the archiving functions may sign with, archive grants cut to the objects, a queue policy
that lets EventBridge deliver the rule's dead letters, and the API's access log."""

from __future__ import annotations

import json
import re
from fnmatch import fnmatch
from typing import Any

import pytest

from approvals.domain.archive_document import archive_key
from local.deploy import load_template
from tests.unit.template.tools import TEMPLATE, transformed

CFN = transformed()
RESOURCES: dict[str, Any] = CFN["Resources"]
SAM = load_template(TEMPLATE)
PARAMETERS: dict[str, Any] = SAM["Parameters"]
ARCHIVE_OBJECTS = {"Fn::Sub": "${ArchiveBucket.Arn}/tenant=*"}
SIGNING_KEY = {"Fn::GetAtt": ["ArchiveSigningKey", "Arn"]}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in RESOURCES.items() if r["Type"] == kind}


def role_statements(resources: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Role -> every Allow statement that applies to it: its inline policies, the managed policies
    of the template attached to it, and the AWS::IAM::Policy resources naming it."""
    def documents(props: dict[str, Any]) -> list[dict[str, Any]]:
        return [p["PolicyDocument"] for p in props.get("Policies", [])]

    def allows(document: dict[str, Any]) -> list[dict[str, Any]]:
        return [s for s in _as_list(document["Statement"]) if s.get("Effect") == "Allow"]

    managed = {lid: allows(r["Properties"]["PolicyDocument"]) for lid, r in resources.items()
               if r["Type"] == "AWS::IAM::ManagedPolicy"}
    found: dict[str, list[dict[str, Any]]] = {}
    for lid, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        props = resource["Properties"]
        statements = [s for d in documents(props) for s in allows(d)]
        for arn in props.get("ManagedPolicyArns", []):
            if isinstance(arn, dict) and arn.get("Ref") in managed:
                statements += managed[arn["Ref"]]
        found[lid] = statements
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Policy":
            for role in resource["Properties"]["Roles"]:
                found[role["Ref"]] += allows(resource["Properties"]["PolicyDocument"])
    return found


def grants(prefix: str, resources: dict[str, Any] | None = None) -> dict[str, set[tuple[str, str]]]:
    """Role -> (action, resource as JSON) of every grant of a `prefix` action."""
    found: dict[str, set[tuple[str, str]]] = {}
    for role, statements in role_statements(resources or RESOURCES).items():
        for statement in statements:
            for action in _as_list(statement["Action"]):
                if action.startswith(prefix):
                    for resource in _as_list(statement["Resource"]):
                        found.setdefault(role, set()).add((action, json.dumps(resource, sort_keys=True)))
    return found


# --- the archive bucket ----------------------------------------------------------------------


def test_archive_bucket_locks_every_version_for_a_retention() -> None:
    props = RESOURCES["ArchiveBucket"]["Properties"]
    # Set when CloudFormation creates the bucket; left out for a bucket that predates it (deploy.md).
    assert props["ObjectLockEnabled"] == {"Fn::If": ["ArchiveBucketCreatedWithLock", True, {"Ref": "AWS::NoValue"}]}
    assert PARAMETERS["ArchiveBucketCreatedWithLock"]["Default"] == "true"
    assert SAM["Conditions"]["ArchiveBucketCreatedWithLock"] == {
        "Fn::Equals": [{"Ref": "ArchiveBucketCreatedWithLock"}, "true"]}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}  # Object Lock needs it
    assert props["ObjectLockConfiguration"] == {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {
        "Mode": {"Ref": "ArchiveLockMode"}, "Days": {"Ref": "ArchiveRetentionDays"}}}}
    mode, days = PARAMETERS["ArchiveLockMode"], PARAMETERS["ArchiveRetentionDays"]
    assert (mode["Default"], mode["AllowedValues"]) == ("GOVERNANCE", ["GOVERNANCE", "COMPLIANCE"])
    assert (days["Type"], days["Default"], days["MinValue"]) == ("Number", 365, 1)


def test_archive_objects_are_written_and_read_and_nothing_else() -> None:
    """Finish and Sweep archive: s3:PutObject on the archive's objects, no ACLs, lifecycle,
    deletes or reads; the API reads them; no other role touches S3."""
    assert fnmatch(archive_key("acme", "leave-request", "2026-12-01T10:00:00Z", "abc"), "tenant=*")
    s3 = grants("s3:")
    put = {("s3:PutObject", json.dumps(ARCHIVE_OBJECTS))}
    assert s3.pop("FinishFunctionRole") == put
    assert s3.pop("SweepFunctionRole") == put
    assert s3.pop("ExecutionEndedFunctionRole") == put
    assert s3.pop("ApiFunctionRole") == {("s3:GetObject", json.dumps(ARCHIVE_OBJECTS))}
    assert s3 == {}


def test_the_grant_check_sees_a_sam_policy_template() -> None:
    """What Finish had before: S3WritePolicy, with lifecycle and ACL writes on the whole bucket."""
    template = load_template(TEMPLATE)
    policies = template["Resources"]["FinishFunction"]["Properties"]["Policies"]
    sam_policy = {"S3WritePolicy": {"BucketName": {"Ref": "ArchiveBucket"}}}
    policies[policies.index({"Ref": "ArchiveWritePolicy"})] = sam_policy
    actions = {action for action, _ in grants("s3:", transformed(template)["Resources"])["FinishFunctionRole"]}
    assert {"s3:PutLifecycleConfiguration", "s3:PutObjectAcl", "s3:PutObject"} <= actions


# --- the signing key -------------------------------------------------------------------------


def test_the_signing_key_is_asymmetric_and_kept_with_the_archives() -> None:
    key = RESOURCES["ArchiveSigningKey"]
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"
    props = key["Properties"]
    assert (props["KeySpec"], props["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    assert RESOURCES["ArchiveSigningKeyAlias"]["Properties"]["TargetKeyId"] == {"Ref": "ArchiveSigningKey"}
    assert SAM["Outputs"]["ArchiveSigningKeyArn"]["Value"] == SIGNING_KEY


def test_only_the_archiving_functions_may_sign_and_only_sign() -> None:
    kms = grants("kms:")
    sign = {("kms:Sign", json.dumps(SIGNING_KEY))}
    assert kms.pop("FinishFunctionRole") == sign
    assert kms.pop("SweepFunctionRole") == sign
    assert kms.pop("ExecutionEndedFunctionRole") == sign
    assert kms == {}
    for lid, resource in _of_type("AWS::Lambda::Function").items():
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        expected = SIGNING_KEY if lid in ("FinishFunction", "SweepFunction", "ExecutionEndedFunction") else None
        assert variables.get("ARCHIVE_SIGNING_KEY") == expected, lid


def test_the_key_policy_lets_nobody_else_sign_or_grant() -> None:
    statements = RESOURCES["ArchiveSigningKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert all(s["Effect"] == "Allow" for s in statements)
    root = {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    by_action: dict[str, list[Any]] = {}
    for statement in statements:
        for action in _as_list(statement["Action"]):
            assert "*" not in action, f"{statement['Sid']}: {action}"
            by_action.setdefault(action, []).append(statement["Principal"])
    assert by_action.pop("kms:Sign") == [{"AWS": [{"Fn::GetAtt": ["FinishFunctionRole", "Arn"]},
                                                  {"Fn::GetAtt": ["SweepFunctionRole", "Arn"]},
                                                  {"Fn::GetAtt": ["ExecutionEndedFunctionRole", "Arn"]}]}]
    assert by_action["kms:Verify"] == by_action["kms:GetPublicKey"] == [root]  # to IAM: who verifies
    assert "kms:CreateGrant" not in by_action  # a grant could hand Sign to anyone
    assert "kms:PutKeyPolicy" in by_action and all(p == [root] for p in by_action.values())


# --- dead letters ----------------------------------------------------------------------------


def _queue_policies() -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for resource in _of_type("AWS::SQS::QueuePolicy").values():
        for queue in resource["Properties"]["Queues"]:
            found.setdefault(queue["Ref"], []).extend(_as_list(resource["Properties"]["PolicyDocument"]["Statement"]))
    return found


def test_eventbridge_may_deliver_each_rules_dead_letters_and_only_those() -> None:
    rules = _of_type("AWS::Events::Rule")
    with_dead_letters = [(lid, target["DeadLetterConfig"]["Arn"]) for lid, rule in rules.items()
                         for target in rule["Properties"]["Targets"] if "DeadLetterConfig" in target]
    # The ExecutionEnded rule's go to a queue of their own, which the sweep drains (sweeps/ended_runs.py).
    assert sorted(with_dead_letters) == [
        ("ExecutionEndedFunctionExecutionEnded", {"Fn::GetAtt": ["ExecutionEndedRetryQueue", "Arn"]}),
        ("StartFunctionApprovalRequested", {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]})]
    policies = _queue_policies()
    sids = {"StartFunctionApprovalRequested": "ApprovalRequestedRuleDeadLetters",
            "ExecutionEndedFunctionExecutionEnded": "ExecutionEndedRuleDeadLetters"}
    for rule, queue_arn in with_dead_letters:
        queue = queue_arn["Fn::GetAtt"][0]
        allowed = [s for s in policies.get(queue, []) if s["Effect"] == "Allow"
                   and s["Principal"] == {"Service": "events.amazonaws.com"} and s["Action"] == "sqs:SendMessage"
                   and s["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::GetAtt": [rule, "Arn"]}]
        assert allowed == [{"Sid": sids[rule], "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
                            "Resource": queue_arn,
                            "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule, "Arn"]}}}}]
    every = [s for statements in policies.values() for s in statements if s["Effect"] == "Allow"]
    assert len(every) == len(with_dead_letters)  # no queue takes messages from anyone else


def test_the_sweep_drains_the_retry_queue_of_ended_runs_and_nothing_else() -> None:
    functions = {lid: r["Properties"] for lid, r in _of_type("AWS::Lambda::Function").items()}
    sweep, ended = functions["SweepFunction"], functions["ExecutionEndedFunction"]
    queue = "ExecutionEndedRetryQueue"
    assert sweep["Environment"]["Variables"]["EXECUTION_ENDED_QUEUE_URL"] == {"Ref": queue}
    # What Lambda's own retries of ExecutionEndedFunction left goes there too.
    assert ended["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": [queue, "Arn"]}}
    statements = role_statements(RESOURCES)[sweep["Role"]["Fn::GetAtt"][0]]
    on_queues = [s for s in statements if any(str(a).startswith("sqs:") for a in _as_list(s["Action"]))]
    # Its own dead letters (SAM: sendMessage on DeadLetterQueue), and reading the retry queue.
    own = {"Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}, "Effect": "Allow"}
    reads = [s for s in on_queues if s != own]
    assert len(reads) == 1 and queue in json.dumps(reads[0]["Resource"])
    assert "sqs:SendMessage" not in _as_list(reads[0]["Action"])
    assert "sqs:ReceiveMessage" in _as_list(reads[0]["Action"]) and "sqs:DeleteMessage" in _as_list(reads[0]["Action"])
    props = RESOURCES[queue]["Properties"]
    assert props["SqsManagedSseEnabled"] is True and props["VisibilityTimeout"] >= 2 * sweep["Timeout"]


# --- the API's access log --------------------------------------------------------------------

STAGE = next(iter(_of_type("AWS::ApiGateway::Stage").values()))["Properties"]
# CloudWatch Logs' retention values.
RETENTIONS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}


def test_the_api_writes_a_json_access_log_with_a_retention() -> None:
    setting = STAGE["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    line = json.loads(setting["Format"])  # one JSON object per request
    assert "\n" not in setting["Format"]
    assert {k: line[k] for k in ("requestId", "ip", "caller", "status", "path", "errorMessage", "errorType",
                                 "authorizeError", "authorizerError")} == {
        "requestId": "$context.requestId", "ip": "$context.identity.sourceIp",
        "caller": "$context.authorizer.claims.sub", "status": "$context.status", "path": "$context.path",
        "errorMessage": "$context.error.message", "errorType": "$context.error.responseType",
        "authorizeError": "$context.authorize.error", "authorizerError": "$context.authorizer.error"}
    assert all(re.fullmatch(r"\$context\.[A-Za-z.]+", value) for value in line.values())
    group = RESOURCES["ApiAccessLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "ApiAccessLogRetentionDays"}
    retention = PARAMETERS["ApiAccessLogRetentionDays"]
    assert retention["Default"] == "90" and {int(v) for v in retention["AllowedValues"]} == RETENTIONS


@pytest.mark.parametrize("settings", STAGE.get("MethodSettings", []))
def test_the_api_keeps_execution_logs_off(settings: dict[str, Any]) -> None:
    """Execution logs (with request data at INFO) would need no more than the access log gives."""
    assert "LoggingLevel" not in settings and not settings.get("DataTraceEnabled")
