#!/usr/bin/env bash
# Recompiles scripts/requirements.lock from scripts/requirements.in: every package the tests need, and every
# dependency of theirs, at one exact version with the hashes of all its files on PyPI (so the lock installs on
# any platform and Python the packages support). pip-tools runs from a throwaway virtual environment.
#
# After moving a pin, run the suite: tests/kb_entries.rs names every IAM write operation of the new botocore
# model that has no knowledge-base entry yet, and tests/kb_cli.rs every command the new CLI model rejects.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
"${TRAILGUARD_BASE_PYTHON:-python3}" -m venv "$tools"
"$tools/bin/python" -m pip install --quiet --disable-pip-version-check 'pip-tools==7.7.0'
"$tools/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-find-links \
  --no-emit-index-url --output-file scripts/requirements.lock scripts/requirements.in
echo "lock-python: wrote scripts/requirements.lock" >&2
