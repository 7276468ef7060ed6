"""Tokens no real provider would send, signed with keys made for the tests, and the
provider metadata that makes an issuer trust those keys (seeded in the cache, no network).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
import urllib.parse
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from logto_auth._provider import provider

ENDPOINT = "https://tenant.logto.example"
ISSUER = f"{ENDPOINT}/oidc"
APP_ID = "django-demo"


def jwk_of(public_key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.get_default_algorithms()[alg]
    value: dict[str, Any] = algorithm.to_jwk(public_key, as_dict=True)
    return {**value, "kid": kid, "use": "sig"}


P384 = ec.generate_private_key(ec.SECP384R1())
P256 = ec.generate_private_key(ec.SECP256R1())
RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_P384 = ec.generate_private_key(ec.SECP384R1())
JWKS = {
    "keys": [
        jwk_of(P384.public_key(), "p384", "ES384"),
        jwk_of(P256.public_key(), "p256", "ES256"),
        jwk_of(RSA.public_key(), "rsa", "RS256"),
    ]
}
PUBLIC_PEM = P384.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


def seed_provider() -> None:
    """Make the configured issuer (``ENDPOINT``) trust ``JWKS``, with no network call."""
    cached = provider()
    cached.forget()
    metadata = {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/auth",
        "token_endpoint": f"{ISSUER}/token",
        "userinfo_endpoint": f"{ISSUER}/me",
        "jwks_uri": f"{ISSUER}/jwks",
        "end_session_endpoint": f"{ISSUER}/session/end",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES384"],
    }
    cached.share("metadata", metadata)
    cached.share("jwks", JWKS)
    # An unknown kid must not reach the (unreachable) network in these tests.
    cached._last_refetch = time.monotonic()


def claims(**changes: Any) -> dict[str, Any]:
    """ID token claims for ``APP_ID``; a change to ``None`` removes the claim."""
    now = int(time.time())
    base = {"iss": ISSUER, "aud": APP_ID, "sub": "u1alice0000a", "iat": now, "exp": now + 3600}
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def sign(key: Any = P384, alg: str = "ES384", kid: str = "p384", **changes: Any) -> str:
    headers = changes.pop("headers", {})
    return jwt.encode(claims(**changes), key, algorithm=alg, headers={"kid": kid, **headers})


def unsigned(**changes: Any) -> str:
    headers = {"kid": "p384", **changes.pop("headers", {})}
    return jwt.encode(claims(**changes), None, algorithm="none", headers=headers)  # type: ignore[arg-type]


def forge(header: dict[str, Any], key: Any, signing_alg: str, **changes: Any) -> str:
    """Build a token whose header says what the test wants, signed with ``signing_alg``."""
    encode = jwt.utils.base64url_encode
    signing_input = (
        encode(json.dumps(header).encode()) + b"." + encode(json.dumps(claims(**changes)).encode())
    )
    if signing_alg == "HS256":  # PyJWT refuses a PEM as HMAC secret: do it by hand
        signature = hmac.new(key, signing_input, hashlib.sha256).digest()
    else:
        algorithm = jwt.algorithms.get_default_algorithms()[signing_alg]
        signature = algorithm.sign(signing_input, algorithm.prepare_key(key))
    return (signing_input + b"." + encode(signature)).decode()


def get_with_two_authorizations(url: str, first: str, second: str) -> tuple[int, str]:
    """GET ``url`` with two ``Authorization: Bearer`` headers (what no HTTP library sends)
    over real HTTP; return the status and the ``WWW-Authenticate`` header."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.putrequest("GET", parts.path)
        connection.putheader("Authorization", f"Bearer {first}")
        connection.putheader("Authorization", f"Bearer {second}")
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.getheader("WWW-Authenticate", "")
    finally:
        connection.close()
