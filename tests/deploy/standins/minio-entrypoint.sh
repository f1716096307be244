#!/bin/sh
# The minio stand-in's `minio server DIR`: moto's S3 server on every address, port 9000. It
# keeps objects in memory (DIR is not used) and takes any credentials.
set -eu
if [ "${1:-}" != server ]; then
  echo "minio stand-in: only 'minio server DIR' is supported" >&2
  exit 2
fi
exec moto_server --host 0.0.0.0 --port 9000
