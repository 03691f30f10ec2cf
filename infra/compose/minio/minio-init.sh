#!/bin/sh
# Run by the minio-init service (infra/docker-compose.yml) at every `up`, with the root alias
# `kluis` (MC_HOST_kluis). Idempotent. Plain POSIX shell and mc only (the mc image has no awk or sed).
#   1. Kluis's own user, allowed only on buckets named MINIO_BUCKET_PREFIX*, never the root keys.
#   2. On every Kluis bucket: no anonymous access, default server-side encryption (SSE-S3, KMS key).
set -eu
prefix="${MINIO_BUCKET_PREFIX:?}"
: "${MINIO_KLUIS_ACCESS_KEY:?}" "${MINIO_KLUIS_SECRET_KEY:?}"
case "$prefix" in *[!a-z0-9-]*|'') echo "minio-init: MINIO_BUCKET_PREFIX must be lower-case letters, digits or dashes" >&2; exit 1 ;; esac

policy="${TMPDIR:-/tmp}/kluis-policy.json"
cat > "$policy" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
      "Resource": ["arn:aws:s3:::${prefix}*"]
    },
    {
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:GetObjectTagging", "s3:PutObjectTagging"],
      "Resource": ["arn:aws:s3:::${prefix}*/*"]
    }
  ]
}
JSON
mc admin policy create kluis kluis-app "$policy"
mc admin user add kluis "$MINIO_KLUIS_ACCESS_KEY" "$MINIO_KLUIS_SECRET_KEY"
# Attaching an already attached policy is reported as an error; the user's policies are listed after.
mc admin policy attach kluis kluis-app --user "$MINIO_KLUIS_ACCESS_KEY" || true
mc admin user info kluis "$MINIO_KLUIS_ACCESS_KEY"

# `mc ls` prints "[date time zone] size name/" per bucket.
mc ls kluis | while read -r _date _time _zone _size name; do
  bucket="${name%/}"
  case "$bucket" in
    "$prefix"*)
      mc anonymous set none "kluis/$bucket"
      mc encrypt set sse-s3 "kluis/$bucket"
      echo "minio-init: $bucket private and encrypted"
      ;;
  esac
done
echo "minio-init: done"
