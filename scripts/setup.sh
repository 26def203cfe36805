#!/usr/bin/env bash
# Installs what the tests need beyond Rust (moto's server, boto3 and botocore, the AWS CLI, cfn-lint) into a
# virtual environment of its own, from scripts/requirements.lock: exact versions, every file checked against
# its hash (`pip install --require-hashes`). Nothing is installed into the system Python, so a stock Debian or
# Ubuntu Python (pip's "externally-managed-environment") works, and nothing needs activating.
#
# The environment is ${XDG_CACHE_HOME:-~/.cache}/trailguard/venv-py<X.Y>-<hash of the lock file>: every run on
# one machine (CI included) reuses it, and a changed lock makes a new one. It is marked complete only once
# everything installed, so an interrupted run is redone next time; a lock file serialises concurrent runs.
#
# Prints the environment's directory on stdout (messages go to stderr) and points the work tree's `.venv`
# (gitignored) at it; scripts/test.sh puts its bin/ first on PATH (for `aws`) and sets TRAILGUARD_PYTHON,
# and the tests fall back to `.venv/bin/python` when run by hand.
#
#   bash scripts/setup.sh              # create or reuse, print the directory
#   bash scripts/setup.sh --print-path # only print where the environment for this lock lives
#
# Environment: TRAILGUARD_BASE_PYTHON (the interpreter to build the environment from, default python3),
# TRAILGUARD_LOCK (the lock file, default scripts/requirements.lock), TRAILGUARD_PYTHON (an interpreter you
# provisioned yourself: checked, and no environment is made).
set -euo pipefail
cd "$(dirname "$0")/.."

base_python=${TRAILGUARD_BASE_PYTHON:-python3}
lock=${TRAILGUARD_LOCK:-scripts/requirements.lock}
# The modules the tests import, and the commands they run.
check_imports='import moto.server, boto3, botocore, flask, flask_cors, yaml, cfnlint'

if [ -n "${TRAILGUARD_PYTHON:-}" ] && [ "${1:-}" != "--print-path" ]; then
  if ! "$TRAILGUARD_PYTHON" -c "$check_imports" >/dev/null 2>&1; then
    echo "setup: TRAILGUARD_PYTHON=$TRAILGUARD_PYTHON lacks the test packages; unset it to let setup make its own environment, or install $lock into it" >&2
    exit 2
  fi
  exit 0
fi

if ! command -v "$base_python" >/dev/null 2>&1; then
  echo "setup: $base_python is required (Python 3.9 or newer with its venv module)" >&2
  exit 2
fi
if [ ! -f "$lock" ]; then
  echo "setup: no lock file at $lock" >&2
  exit 2
fi

# The key: the interpreter's X.Y (a venv belongs to one) and the lock file's SHA-256.
key=$("$base_python" - "$lock" <<'EOF'
import hashlib, sys
with open(sys.argv[1], "rb") as f:
    digest = hashlib.sha256(f.read()).hexdigest()
print("py%d.%d-%s" % (sys.version_info[0], sys.version_info[1], digest[:16]))
EOF
)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/trailguard
venv=$cache/venv-$key

if [ "${1:-}" = "--print-path" ]; then
  echo "$venv"
  exit 0
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is required (https://rustup.rs)" >&2
  exit 2
fi

mkdir -p "$cache"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$venv.lock"
  flock 9
fi

if [ -f "$venv/.complete" ] && "$venv/bin/python" -c "$check_imports" >/dev/null 2>&1 && [ -x "$venv/bin/aws" ]; then
  : # Made by an earlier run from the same lock.
else
  echo "setup: creating $venv from $lock (pinned versions, hashes checked)" >&2
  rm -rf "$venv"
  if ! "$base_python" -m venv "$venv" >&2; then
    rm -rf "$venv"
    echo "setup: $base_python cannot create a virtual environment (on Debian or Ubuntu: apt-get install python3-venv)" >&2
    exit 2
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --require-hashes -r "$lock" >&2
  "$venv/bin/python" -c "$check_imports"
  "$venv/bin/aws" --version >/dev/null
  touch "$venv/.complete"
fi

if [ -L .venv ] || [ ! -e .venv ]; then
  ln -sfn "$venv" .venv
else
  echo "setup: .venv is not ours, left alone (tests run by hand need TRAILGUARD_PYTHON=$venv/bin/python)" >&2
fi
echo "$venv"
