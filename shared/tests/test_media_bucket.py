"""compose's media-bucket one-shot (service_kit.media_bucket) against a real S3 server (moto's,
on loopback): the bucket made once, the second run a no-op, a missing setting said."""

from __future__ import annotations

import uuid

from platform_tools.testing.s3 import KEYS, s3_client
from service_kit import media_bucket


def test_the_bucket_is_made_once_then_found(s3_server, monkeypatch, capsys):
    bucket = f"media-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("S3_BUCKET", bucket)
    monkeypatch.setenv("S3_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("S3_ACCESS_KEY_ID", KEYS["access_key"])
    monkeypatch.setenv("S3_SECRET_ACCESS_KEY", KEYS["secret_key"])
    assert media_bucket.main(["--wait", "5"]) == 0
    assert media_bucket.main(["--wait", "5"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"media_bucket: {bucket} made",
        f"media_bucket: {bucket} already there",
    ]
    client = s3_client(s3_server)
    assert bucket in {b["Name"] for b in client.list_buckets()["Buckets"]}


def test_no_bucket_named_is_said(monkeypatch, capsys):
    monkeypatch.delenv("S3_BUCKET", raising=False)
    assert media_bucket.main([]) == 2
    assert "S3_BUCKET is not set" in capsys.readouterr().err
