"""SQS: the retry queue of the ExecutionEnded rule (unit_of_work.ports.RetryQueue)."""

from __future__ import annotations

from typing import Any

from ..unit_of_work.ports import Message
from . import aws

RECEIVE_MAX = 10  # SQS's most per ReceiveMessage


class SqsRetryQueue:
    def __init__(self, url: str, client: Any = None) -> None:
        self.url = url
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws.client("sqs")
        return self._client

    def receive(self, limit: int) -> list[Message]:
        found: list[Message] = []
        while len(found) < limit:
            answer = self.client.receive_message(QueueUrl=self.url, WaitTimeSeconds=0,
                                                 MaxNumberOfMessages=min(RECEIVE_MAX, limit - len(found)))
            batch = answer.get("Messages", [])
            if not batch:
                break
            found += [Message(body=str(m["Body"]), receipt=str(m["ReceiptHandle"])) for m in batch]
        return found

    def delete(self, message: Message) -> None:
        self.client.delete_message(QueueUrl=self.url, ReceiptHandle=message.receipt)
