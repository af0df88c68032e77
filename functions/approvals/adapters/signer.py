"""KMS side of the archive's signature: the asymmetric key (template.yaml, `ArchiveSigningKey`,
ECC_NIST_P256) signs the SHA-256 digest of each archive document. Only the 32-byte digest goes to
KMS (MessageType DIGEST); the private key never leaves it. The functions' roles may only
`kms:Sign` with it; whoever verifies uses `kms:Verify` or, offline, the public key
(`kms:GetPublicKey`, `python -m approvals.archive public-key`). Clients are created lazily."""

from __future__ import annotations

from typing import Any

from ..domain.archive_document import Signature
from ..settings import settings
from . import aws

ALGORITHM = "ECDSA_SHA_256"  # the one ECC_NIST_P256 signs with
_DIGEST_BYTES = 32  # SHA-256, which ECDSA_SHA_256 and the RSASSA_*_SHA_256 algorithms expect


def _check_digest(digest: bytes) -> bytes:
    if len(digest) != _DIGEST_BYTES:
        raise ValueError(f"a SHA-256 digest has {_DIGEST_BYTES} bytes, not {len(digest)}")
    return bytes(digest)


class KmsSigner:
    """The Signer port on KMS. The key is ARCHIVE_SIGNING_KEY (its ARN) unless given."""

    def __init__(self, key_id: str | None = None, client: Any = None, algorithm: str = ALGORITHM) -> None:
        self._key_id = key_id
        self._client = client
        self.algorithm = algorithm

    @property
    def key_id(self) -> str:
        return self._key_id or settings().require("archive_signing_key")

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws.client("kms")
        return self._client

    def sign(self, digest: bytes) -> Signature:
        key_id, message = self.key_id, _check_digest(digest)  # a missing key is named before any AWS call
        answer = self.client.sign(KeyId=key_id, Message=message, MessageType="DIGEST", SigningAlgorithm=self.algorithm)
        return Signature(value=bytes(answer["Signature"]), key_id=str(answer["KeyId"]),
                         algorithm=str(answer["SigningAlgorithm"]))


class KmsVerifier:
    """For `verify` with the caller's own credentials: KMS Verify against one named key, and the
    key's public half (DER SubjectPublicKeyInfo) for checking offline."""

    def __init__(self, key_id: str, client: Any = None) -> None:
        self.key_id = key_id
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws.client("kms")
        return self._client

    def verify(self, digest: bytes, signature: bytes, algorithm: str) -> bool:
        """True when `signature` is this key's signature of `digest`; False when it is not.
        Any other refusal (no such key, access denied) is raised as botocore's ClientError."""
        from botocore.exceptions import ClientError

        try:
            answer = self.client.verify(KeyId=self.key_id, Message=_check_digest(digest), MessageType="DIGEST",
                                        Signature=signature, SigningAlgorithm=algorithm)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "KMSInvalidSignatureException":
                return False
            raise
        return bool(answer.get("SignatureValid"))

    def public_key(self) -> bytes:
        return bytes(self.client.get_public_key(KeyId=self.key_id)["PublicKey"])
