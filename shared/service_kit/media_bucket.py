"""The media bucket, made once before the services start (compose's ``media-bucket`` one-shot):

    python -m service_kit.media_bucket

Makes ``S3_BUCKET`` on the store at ``S3_ENDPOINT_URL`` (AWS when unset) with the key in
``S3_ACCESS_KEY_ID`` / ``S3_SECRET_ACCESS_KEY`` (or their ``_FILE`` variants), unless it is there
already. Plain S3 calls (boto3), so any S3 store will do: MinIO, a cloud's, moto's server. The
store may still be starting: connection errors are retried for ``--wait`` seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    ClientError,
    EndpointConnectionError,
)

from service_kit.conf import env_value


def ensure_bucket(client: Any, bucket: str, region: str) -> bool:
    """Makes ``bucket`` unless it exists; answers whether it was made."""
    try:
        client.head_bucket(Bucket=bucket)
        return False
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    options = (
        {}
        if region == "us-east-1"
        else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    )
    try:
        client.create_bucket(Bucket=bucket, **options)
    except ClientError as exc:  # made meanwhile by another one-shot: fine
        if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou",):
            raise
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service_kit.media_bucket")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the store")
    args = parser.parse_args(argv)
    bucket = os.environ.get("S3_BUCKET")
    if not bucket:
        print("media_bucket: S3_BUCKET is not set", file=sys.stderr)
        return 2
    region = os.environ.get("S3_REGION", "us-east-1")
    client = boto3.client(
        "s3",
        endpoint_url=os.environ.get("S3_ENDPOINT_URL") or None,
        aws_access_key_id=env_value("S3_ACCESS_KEY_ID"),
        aws_secret_access_key=env_value("S3_SECRET_ACCESS_KEY"),
        region_name=region,
        config=Config(s3={"addressing_style": os.environ.get("S3_ADDRESSING_STYLE", "path")}),
    )
    deadline = time.monotonic() + args.wait
    while True:
        try:
            made = ensure_bucket(client, bucket, region)
            break
        except EndpointConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    print(f"media_bucket: {bucket} {'made' if made else 'already there'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
