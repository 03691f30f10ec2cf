#!/bin/sh
# Run by the minio-init service (infra/docker-compose.yml) at every `up`, with the root alias
# `kluis` (MC_HOST_kluis). Idempotent.
#   1. Kluis's own user, allowed only on buckets named MINIO_BUCKET_PREFIX*, never the root keys.
#   2. On every Kluis bucket: no anonymous access, default server-side encryption (SSE-S3, KMS key).
set -eu
prefix="${MINIO_BUCKET_PREFIX:?}"
case "$prefix" in *[!a-z0-9-]*|'') echo "minio-init: MINIO_BUCKET_PREFIX must be lower-case letters, digits or dashes" >&2; exit 1 ;; esac

policy=/tmp/kluis-policy.json
sed "s/KLUIS_BUCKET_PREFIX/$prefix/g" /init/kluis-policy.json > "$policy"
mc admin policy create kluis kluis-app "$policy"
mc admin user add kluis "${MINIO_KLUIS_ACCESS_KEY:?}" "${MINIO_KLUIS_SECRET_KEY:?}"
mc admin policy attach kluis kluis-app --user "$MINIO_KLUIS_ACCESS_KEY" 2>/dev/null || true

mc ls kluis | awk '{print $NF}' | sed 's:/$::' | while read -r bucket; do
  case "$bucket" in
    "$prefix"*)
      mc anonymous set none "kluis/$bucket"
      mc encrypt set sse-s3 "kluis/$bucket"
      echo "minio-init: $bucket private and encrypted"
      ;;
  esac
done
echo "minio-init: done"
