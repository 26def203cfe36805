#!/usr/bin/env python3
"""Run knowledge-base Python remediation snippets against a local moto server.

Two ways to use it:

1. By hand, while writing an entry (starts its own moto server on a free port):

       .venv/bin/python crates/trailguard-kb/scripts/run_snippets.py crates/trailguard-kb/entries/iam/CreateUser.md
       .venv/bin/python crates/trailguard-kb/scripts/run_snippets.py crates/trailguard-kb/entries/iam/*.md

   For each file it takes the ```python setup block (optional) and the ```python block under
   "## Remediation" -> "### Python", resets moto, runs setup then code in a fresh namespace, and prints
   PASS / FAIL (with the traceback) / SKIP (front matter says `moto: unsupported: ...`). Exit status 1
   when any snippet failed.

2. From the Rust test (crates/trailguard/tests/kb_python.rs), with `--json`: reads a JSON list of
   {"entry": str, "setup": str, "code": str} on stdin, talks to the moto server named by
   $AWS_ENDPOINT_URL, and writes a JSON list of {"entry", "ok", "error", "seconds"} on stdout.

Both ways run moto without AWS managed policies (MOTO_IAM_LOAD_MANAGED_POLICIES unset here, "false" in the
Rust test): a setup block that needs one, e.g. AdministratorAccess, creates a customer managed stand-in.

Each snippet gets a fresh namespace and a reset moto (POST /moto-api/reset), so snippets cannot depend on
each other. Snippet stdout is captured (not mixed into the report); a snippet has 60 seconds.
"""

import contextlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import traceback
import urllib.request

SNIPPET_TIMEOUT_SECONDS = 60


class SnippetTimeout(Exception):
    pass


def _on_alarm(_signum, _frame):
    raise SnippetTimeout(f"snippet ran longer than {SNIPPET_TIMEOUT_SECONDS}s")


def reset_moto(endpoint):
    request = urllib.request.Request(endpoint.rstrip("/") + "/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def run_one(endpoint, entry, setup, code):
    """Runs setup then code; returns a result dict. Never raises."""
    started = time.monotonic()
    result = {"entry": entry, "ok": False, "error": None, "seconds": 0.0}
    captured = io.StringIO()
    try:
        reset_moto(endpoint)
        namespace = {"__name__": "__main__", "__file__": entry}
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(SNIPPET_TIMEOUT_SECONDS)
        try:
            with contextlib.redirect_stdout(captured):
                if setup and setup.strip():
                    exec(compile(setup, f"{entry} (python setup)", "exec"), namespace)
                exec(compile(code, f"{entry} (python)", "exec"), namespace)
        finally:
            signal.alarm(0)
        result["ok"] = True
    except BaseException:  # a snippet may call sys.exit or raise anything; report it, keep going
        result["error"] = traceback.format_exc(limit=8)
    result["seconds"] = round(time.monotonic() - started, 3)
    return result


# ---- extraction from Markdown (hand mode; the Rust test extracts with the kb crate's parser) ----

FENCE = re.compile(r"^```(.*)$")


def parse_entry(path):
    """Returns (moto_field, setup, code) from an entry file."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    moto = "supported"
    front = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    if front:
        for line in front.group(1).splitlines():
            if line.startswith("moto:"):
                moto = line.split(":", 1)[1].strip().strip("\"'")
    lines = text.splitlines()
    in_remediation = False
    in_python = False
    setup, code = None, None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            in_remediation = line.strip() == "## Remediation"
            in_python = False
        elif line.startswith("### "):
            in_python = in_remediation and line.strip() == "### Python"
        elif in_python and FENCE.match(line):
            info = FENCE.match(line).group(1).strip()
            body = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            block = "\n".join(body) + "\n"
            if info == "python setup":
                setup = block
            elif info == "python" and code is None:
                code = block
        i += 1
    return moto, setup, code


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def moto_server():
    if os.environ.get("AWS_ENDPOINT_URL"):
        yield os.environ["AWS_ENDPOINT_URL"]
        return
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "false"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("moto server did not start within 60s")
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait()


def use_endpoint(endpoint):
    """Points boto3 at moto only, with fake credentials, whatever the caller's environment holds."""
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }
    )


def main_json():
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        raise SystemExit("--json mode needs AWS_ENDPOINT_URL (the moto server)")
    use_endpoint(endpoint)
    snippets = json.load(sys.stdin)
    results = [run_one(endpoint, s["entry"], s.get("setup") or "", s["code"]) for s in snippets]
    json.dump(results, sys.stdout)
    sys.stdout.write("\n")


def main_files(paths):
    failed = 0
    with moto_server() as endpoint:
        use_endpoint(endpoint)
        for path in paths:
            moto, setup, code = parse_entry(path)
            if moto.startswith("unsupported"):
                print(f"SKIP {path}: {moto}")
                continue
            if code is None:
                print(f"FAIL {path}: no ```python block under ## Remediation / ### Python")
                failed += 1
                continue
            result = run_one(endpoint, path, setup, code)
            if result["ok"]:
                print(f"PASS {path} ({result['seconds']}s)")
            else:
                failed += 1
                print(f"FAIL {path}\n{result['error']}")
    print(f"{len(paths) - failed} of {len(paths)} passed or skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if args == ["--json"]:
        main_json()
    elif args and not any(a.startswith("-") for a in args):
        sys.exit(main_files(args))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
