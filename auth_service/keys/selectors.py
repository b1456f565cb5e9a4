import json

from cryptography.hazmat.primitives import serialization
from jwt.algorithms import RSAAlgorithm

from .models import SigningKey


def jwks() -> dict:
    """The public keys that verify tokens: the active one and those still verifying."""
    keys = []
    for key in SigningKey.objects.exclude(state=SigningKey.State.RETIRED):
        public = serialization.load_pem_public_key(key.public_pem.encode())
        jwk = json.loads(RSAAlgorithm.to_jwk(public))
        keys.append({**jwk, "kid": key.kid, "use": "sig", "alg": "RS256"})
    return {"keys": keys}
