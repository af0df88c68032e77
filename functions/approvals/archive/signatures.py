"""Checking an archive's signature offline, with the public half of the signing key (a PEM or DER
file, from `python -m approvals.archive public-key` or `aws kms get-public-key`).

KMS signed the 32-byte SHA-256 digest itself (Sign with MessageType DIGEST), so the digest is
verified as a pre-hashed SHA-256 value. Uses `cryptography`, imported only here: verifying runs on
an operator's machine (it is in the development venv), never in a function."""

from __future__ import annotations

from typing import Any

# The algorithms KMS signs a SHA-256 digest with (ECC_NIST_P256 and RSA keys).
SUPPORTED = ("ECDSA_SHA_256", "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PSS_SHA_256")


class UnusableKey(ValueError):
    """The public key file cannot be read, or is not a key of the kind the algorithm needs."""


def load_public_key(data: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization

    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return serialization.load_pem_public_key(data)
        return serialization.load_der_public_key(data)
    except (ValueError, TypeError) as error:
        raise UnusableKey(f"not a PEM or DER public key ({error})") from error


def to_pem(der: bytes) -> bytes:
    """A DER SubjectPublicKeyInfo (what KMS GetPublicKey returns) as PEM."""
    from cryptography.hazmat.primitives import serialization

    key = load_public_key(der)
    pem: bytes = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem


def verify_digest(public_key: bytes, digest: bytes, signature: bytes, algorithm: str) -> bool:
    """True when `signature` is the key's signature of the SHA-256 `digest` under `algorithm`."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    key = load_public_key(public_key)
    prehashed = Prehashed(hashes.SHA256())
    try:
        if algorithm == "ECDSA_SHA_256" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(prehashed))
        elif algorithm == "RSASSA_PKCS1_V1_5_SHA_256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, digest, padding.PKCS1v15(), prehashed)
        elif algorithm == "RSASSA_PSS_SHA_256" and isinstance(key, rsa.RSAPublicKey):
            # KMS uses a salt as long as the digest.
            key.verify(signature, digest, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), prehashed)
        else:
            raise UnusableKey(f"a {type(key).__name__} cannot check an {algorithm} signature")
    except InvalidSignature:
        return False
    return True
