#!/usr/bin/env bash
# Installs what the tests need beyond Rust: moto's server, boto3 and the AWS CLI (its service models check
# the knowledge base's commands). Idempotent: does nothing when they are already there.
set -euo pipefail
PY=${TRAILGUARD_PYTHON:-python3}
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is required (https://rustup.rs)" >&2
  exit 2
fi
if ! "$PY" -c 'import moto, boto3, botocore, flask, flask_cors, yaml' >/dev/null 2>&1; then
  echo "setup: installing moto[server], boto3 and awscli with pip" >&2
  "$PY" -m pip install --quiet 'moto[server]>=5,<6' boto3 awscli
fi
if ! command -v aws >/dev/null 2>&1; then
  "$PY" -m pip install --quiet awscli
fi
