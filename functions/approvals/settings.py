"""The functions' settings: the environment variables template.yaml gives them (Globals, and
ARCHIVE_SIGNING_KEY on the functions that archive), read and checked by one model, `Settings`,
through `settings()`.

A variable set to the empty string counts as not set. TABLE_NAME, ARCHIVE_BUCKET and
ARCHIVE_SIGNING_KEY have no default: only the code that needs one asks for it
(`settings().require("table_name")`), so a test or tool that never touches the table needs no
table name.

`settings()` parses the environment once and hands back the same frozen object for as long as
those variables keep their values. It is keyed on the values themselves, not parsed once for
good: the local stack (local/lambda_seam.py) runs every function in one process and applies each
invocation's own environment around the call, and tests set variables with monkeypatch.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Which verified claim names the caller: the contract's `sub`, or (template parameter UserClaim)
# Cognito's `cognito:username`, so a directory can name people by their user names.
USER_CLAIMS = ("sub", "cognito:username")
UserClaim = Literal["sub", "cognito:username"]
Required = Literal["table_name", "archive_bucket", "archive_signing_key"]


class MissingSetting(LookupError):
    """A variable the code needs is not set (or is empty)."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    # The powertools Logger's service (every log line's `service`); POWERTOOLS_SERVICE_NAME in the
    # template. The default is the template's, so logs outside Lambda (tests, tools) say the same.
    service_name: str = Field("approvals", alias="POWERTOOLS_SERVICE_NAME")
    # The template sets the namespace; the default keeps a flush outside Lambda (tests) from failing.
    metrics_namespace: str = Field("Approvals", alias="POWERTOOLS_METRICS_NAMESPACE")
    table_name: str | None = Field(None, alias="TABLE_NAME")
    archive_bucket: str | None = Field(None, alias="ARCHIVE_BUCKET")
    # The KMS key (ARN) that signs archive documents; set on FinishFunction and SweepFunction, the
    # functions that archive. `python -m approvals.archive verify` reads it too, as the key to trust.
    archive_signing_key: str | None = Field(None, alias="ARCHIVE_SIGNING_KEY")
    event_bus_name: str = Field("default", alias="EVENT_BUS_NAME")
    # Lets the runtime name a state machine's ARN without a lookup (else it asks STS once).
    state_machine_arn_prefix: str | None = Field(None, alias="STATE_MACHINE_ARN_PREFIX")
    # SweepFunction's: the ExecutionEnded rule's retry queue (sweeps/ended_runs.py); unset, not swept.
    execution_ended_queue_url: str | None = Field(None, alias="EXECUTION_ENDED_QUEUE_URL")
    # Read by the API only. A claim the template does not allow falls back to the contract's `sub`.
    user_claim: UserClaim = Field("sub", alias="USER_CLAIM")
    # Not read from here yet: approvals.catalog and approvals.samples still read these themselves.
    flow_catalog_dir: Path | None = Field(None, alias="FLOW_CATALOG_DIR")
    action_name: str = Field("UnknownAction", alias="ACTION_NAME")
    fail_actions: frozenset[str] = Field(frozenset(), alias="FAIL_ACTIONS")  # a comma list

    @field_validator("user_claim", mode="before")
    @classmethod
    def _known_claim(cls, value: Any) -> Any:
        return value if value in USER_CLAIMS else "sub"

    @field_validator("fail_actions", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return frozenset(name.strip() for name in value.split(",") if name.strip()) if isinstance(value, str) else value

    def require(self, name: Required) -> str:
        """The value of a setting without a default; MissingSetting names the variable when unset."""
        value: str | None = getattr(self, name)
        if not value:
            raise MissingSetting(f"{Settings.model_fields[name].alias} is not set")
        return value


VARIABLES: tuple[str, ...] = tuple(str(field.alias) for field in Settings.model_fields.values())


def settings() -> Settings:
    """The settings of the current environment (parsed and validated once per set of values)."""
    return _parse(tuple(os.environ.get(name) or None for name in VARIABLES))


@lru_cache(maxsize=128)  # the local stack's functions each have their own few values
def _parse(values: tuple[str | None, ...]) -> Settings:
    given = {name: value for name, value in zip(VARIABLES, values, strict=True) if value is not None}
    return Settings.model_validate(given)


__all__ = ["USER_CLAIMS", "VARIABLES", "MissingSetting", "Settings", "settings"]
