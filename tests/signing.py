"""A Signer for tests: a P-256 key held in memory that signs a digest as KMS does with MessageType
DIGEST (the 32 bytes are the pre-hashed SHA-256 value, not hashed again), and its public key as
PEM for `verify --public-key`. MemoryRuntime (tests/fakes.py) can take one as its `signer`."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from approvals.domain.archive_document import Signature


class LocalSigner:
    def __init__(self, key_id: str = "arn:aws:kms:us-east-1:123456789012:key/local-test-key") -> None:
        self.key_id = key_id
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.signed: list[bytes] = []

    def sign(self, digest: bytes) -> Signature:
        assert len(digest) == 32, "the Signer port signs SHA-256 digests"
        self.signed.append(digest)
        value = self._key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        return Signature(value=value, key_id=self.key_id, algorithm="ECDSA_SHA_256")

    @property
    def public_pem(self) -> bytes:
        return self._key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)

    def write_public_key(self, path: Path) -> Path:
        path.write_bytes(self.public_pem)
        return path
