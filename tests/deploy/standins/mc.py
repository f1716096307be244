#!/usr/bin/env python3
"""``mc`` of the minio stand-in: the three commands that docker-compose.yml gives MinIO's client.

``mc alias set NAME URL USER PASSWORD`` remembers a server, ``mc mb [--ignore-existing]
NAME/BUCKET`` makes a bucket there (boto3, the S3 API), and ``mc ready NAME`` exits 0 once the
server answers (``local``: this container's own, on port 9000).
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

ALIASES = Path.home() / ".mc-standin.json"
LOCAL = {"url": "http://127.0.0.1:9000", "user": "local", "password": "local"}


def aliases() -> dict[str, dict[str, str]]:
    """Every remembered server, ``local`` included."""
    saved = json.loads(ALIASES.read_text()) if ALIASES.is_file() else {}
    return {"local": LOCAL, **saved}


def alias_set(name: str, url: str, user: str, password: str) -> int:
    ALIASES.write_text(
        json.dumps({**aliases(), name: {"url": url, "user": user, "password": password}})
    )
    print(f"Added `{name}` successfully.")
    return 0


def make_bucket(target: str, ignore_existing: bool) -> int:
    import boto3  # here: the health check (`mc ready`) runs every few seconds without it
    from botocore.exceptions import ClientError

    name, _, bucket = target.partition("/")
    server = aliases()[name]
    s3 = boto3.client(
        "s3",
        endpoint_url=server["url"],
        region_name="us-east-1",
        aws_access_key_id=server["user"],
        aws_secret_access_key=server["password"],
    )
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if not (ignore_existing and code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists")):
            print(f"mc: {target}: {code}", file=sys.stderr)
            return 1
    print(f"Bucket created successfully `{target}`.")
    return 0


def ready(name: str) -> int:
    try:
        with urllib.request.urlopen(aliases()[name]["url"] + "/", timeout=5):
            return 0
    except urllib.error.HTTPError:
        return 0  # an answer, even a refusal, means the server is up
    except OSError as exc:
        print(f"mc: {name} is not ready: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str]) -> int:
    match argv:
        case ["alias", "set", name, url, user, password]:
            return alias_set(name, url, user, password)
        case ["mb", "--ignore-existing", target]:
            return make_bucket(target, ignore_existing=True)
        case ["mb", target]:
            return make_bucket(target, ignore_existing=False)
        case ["ready", name]:
            return ready(name)
    print(f"mc stand-in: unsupported command: {' '.join(argv)}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
