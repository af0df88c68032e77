"""S3 side of the archive: put and get gzip JSON documents. The client is created lazily.

The bucket has S3 Object Lock with a default retention (template.yaml, `ArchiveBucket`): every
version written is locked for ArchiveRetentionDays without this code asking (so the functions need
`s3:PutObject` only, not `s3:PutObjectRetention`). S3 refuses a write into a bucket with a default
retention unless it carries Content-MD5 or a checksum: `put` sends a SHA-256 checksum."""

from __future__ import annotations

from typing import Any

from ..settings import settings
from . import aws


class ArchiveStore:
    def __init__(self, bucket: str | None = None, client: Any = None) -> None:
        self._bucket = bucket
        self._client = client

    @property
    def bucket(self) -> str:
        return self._bucket or settings().require("archive_bucket")

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws.client("s3")
        return self._client

    def put(self, key: str, blob: bytes) -> None:
        """Returns only once S3 has confirmed the write: only then may the table items expire."""
        self.client.put_object(
            Bucket=self.bucket, Key=key, Body=blob, ContentType="application/json", ContentEncoding="gzip",
            ChecksumAlgorithm="SHA256",
        )

    def get(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body
