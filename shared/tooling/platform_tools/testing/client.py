"""JSON over HTTP to a running process, as an outside client (a test, a smoke run) sends it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request


def post_json(url: str, body: dict, headers: dict | None = None, timeout: float = 10.0):
    """POST ``body`` as JSON → (status, headers, decoded body); 4xx and 5xx answers too."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read() or b"null")


def call(method: str, url: str, token: str | None = None, body: dict | None = None):
    """One API call with a bearer token (or none) → (status, decoded body or None)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None
