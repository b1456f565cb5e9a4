import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from .models import SigningKey


def jwks() -> dict:
    """The public keys that verify tokens: the active one and those still verifying."""
    keys = []
    for key in SigningKey.objects.exclude(state=SigningKey.State.RETIRED):
        public = serialization.load_pem_public_key(key.public_pem.encode())
        if not isinstance(public, rsa.RSAPublicKey):  # the key service makes RSA keys only
            raise TypeError(f"signing key {key.kid} is not an RSA key")
        jwk = json.loads(RSAAlgorithm.to_jwk(public))
        keys.append({**jwk, "kid": key.kid, "use": "sig", "alg": "RS256"})
    return {"keys": keys}
