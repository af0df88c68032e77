"""Which stack the integration suite runs against (local/remote.py), read from the environment."""

from __future__ import annotations

import json

import pytest
from moto import mock_aws

from local.remote import RemoteStack, Target, TargetError


def test_default_is_the_in_process_stack_at_an_hour_a_second() -> None:
    target = Target.from_env({})
    assert (target.kind, target.remote, target.time_scale, target.max_wait) == ("local", False, 3600, 300)
    assert target.seconds(48) == 48 and target.describe() == "the in-process local stack"
    with pytest.raises(TargetError, match="the local target has no session"):
        target.session()


def test_localstack_endpoints_come_from_localstack_client() -> None:
    target = Target.from_env({"APPROVALS_TARGET": "LocalStack", "LOCALSTACK_HOST": "127.0.0.1:4599",
                              "APPROVALS_STACK": "approvals-test"})
    assert (target.kind, target.remote, target.stack_name, target.time_scale) == (
        "localstack", True, "approvals-test", 1)
    assert target.session().client("stepfunctions").meta.endpoint_url == "http://127.0.0.1:4599"
    assert target.describe() == "stack approvals-test on LocalStack at http://127.0.0.1:4599"
    assert Target.from_env({"APPROVALS_TARGET": "aws"}).stack_name == "approvals-dev"  # samconfig's default


@pytest.mark.parametrize(("env", "message"), [
    ({"APPROVALS_TARGET": "azure"}, "APPROVALS_TARGET='azure': expected one of local, localstack, aws"),
    ({"APPROVALS_TIME_SCALE": "fast"}, "APPROVALS_TIME_SCALE and APPROVALS_MAX_WAIT are numbers"),
    ({"APPROVALS_MAX_WAIT": "0"}, "APPROVALS_TIME_SCALE and APPROVALS_MAX_WAIT must be positive"),
])
def test_a_bad_setting_says_which(env: dict[str, str], message: str) -> None:
    with pytest.raises(TargetError, match=message):
        Target.from_env(env)


def test_a_stack_of_another_template_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        target = Target.from_env({"APPROVALS_TARGET": "aws", "APPROVALS_STACK": "other"})
        template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
                    "Outputs": {"TableName": {"Value": "t"}}}
        target.session().client("cloudformation").create_stack(StackName="other", TemplateBody=json.dumps(template))
        with pytest.raises(TargetError, match="stack other has no output EventBusName, ArchiveBucketName: "
                                              "not this template"):
            RemoteStack.for_target(target).start()
        with pytest.raises(TargetError, match="cannot read stack missing: .*Deploy it first"):
            RemoteStack("missing", target.session()).start()


def test_a_given_api_url_needs_a_token_command_and_a_deployed_target() -> None:
    with pytest.raises(TargetError, match="APPROVALS_API_URL needs APPROVALS_TARGET=localstack or aws, and "):
        Target.from_env({"APPROVALS_TARGET": "aws", "APPROVALS_API_URL": "https://x.example/dev"})
    with pytest.raises(TargetError, match="APPROVALS_API_URL needs"):
        Target.from_env({"APPROVALS_API_URL": "https://x.example/dev", "APPROVALS_TOKEN_COMMAND": "echo t"})
    target = Target.from_env({"APPROVALS_TARGET": "aws", "APPROVALS_API_URL": "https://x.example/dev",
                              "APPROVALS_TOKEN_COMMAND": 'echo "tok-$APPROVALS_USER-$APPROVALS_TENANT"'})
    assert target.token("ann", "acme") == "tok-ann-acme"
    assert target.describe().endswith(", API https://x.example/dev")
    with pytest.raises(TargetError, match="printed"):
        Target(kind="aws", token_command="echo two words").token("ann", "acme")
