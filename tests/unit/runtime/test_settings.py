"""approvals.settings: the functions' environment, read and checked by one model, parsed once per
set of values, so that the environment the local stack applies around each invocation
(local/lambda_seam.py) and monkeypatched variables still take effect."""

from __future__ import annotations

import pytest

from approvals.adapters.archive_store import ArchiveStore
from approvals.adapters.events import Events
from approvals.adapters.sfn import StepFunctions
from approvals.adapters.store import Store
from approvals.settings import VARIABLES, MissingSetting, settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_outside_lambda() -> None:
    found = settings()
    assert (found.service_name, found.metrics_namespace, found.event_bus_name, found.user_claim) == (
        "approvals", "Approvals", "default", "sub")
    assert found.table_name is None and found.state_machine_arn_prefix is None


def test_parsed_once_per_set_of_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "one")
    first = settings()
    assert settings() is first
    monkeypatch.setenv("TABLE_NAME", "two")
    assert settings().table_name == "two"
    monkeypatch.setenv("TABLE_NAME", "one")
    assert settings() is first


def test_an_empty_variable_is_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENT_BUS_NAME", "")
    monkeypatch.setenv("TABLE_NAME", "")
    assert settings().event_bus_name == "default"
    with pytest.raises(MissingSetting, match="TABLE_NAME is not set"):
        settings().require("table_name")


@pytest.mark.parametrize(("value", "claim"), [("cognito:username", "cognito:username"), ("sub", "sub"),
                                              ("email", "sub")])
def test_user_claim_is_one_the_template_allows(value: str, claim: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER_CLAIM", value)
    assert settings().user_claim == claim


def test_fail_actions_is_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIL_ACTIONS", " GrantAccess, ,SignContract,")
    assert settings().fail_actions == frozenset({"GrantAccess", "SignContract"})


def test_the_adapters_read_the_invocations_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """As the Lambda seam sets it around each call: the same adapters see each function's own."""
    store, events, archive, sfn = Store(), Events(), ArchiveStore(), StepFunctions(client=object())
    for key, value in {"TABLE_NAME": "t-1", "EVENT_BUS_NAME": "bus-1", "ARCHIVE_BUCKET": "b-1",
                       "STATE_MACHINE_ARN_PREFIX": "arn:aws:states:us-east-1:123456789012:stateMachine:"}.items():
        monkeypatch.setenv(key, value)
    assert (store.table_name, events.bus_name, archive.bucket) == ("t-1", "bus-1", "b-1")
    assert sfn.state_machine_arn("leave-request-v1").endswith(":123456789012:stateMachine:leave-request-v1")
    monkeypatch.setenv("TABLE_NAME", "t-2")
    assert store.table_name == "t-2"
    monkeypatch.delenv("TABLE_NAME")
    with pytest.raises(MissingSetting, match="TABLE_NAME"):
        _ = store.table_name
    assert Store("explicit").table_name == "explicit"
