#!/usr/bin/env python3
"""Writes a corpus of coding-agent session logs in Claude Code's JSONL form, for the import and report benches.

    python3 scripts/gen-sessions.py --messages 2000000 --out /tmp/sessions [--seed 7] [--gzip-every 4]

Sessions of 20 to 400 messages across 24 projects and six months: user requests, assistant text, tool calls (Bash,
Read, Edit, Grep, Glob, Write) and their results, about 8% of them errors. One file per session under
`<out>/<project dir>/`, every `--gzip-every`-th compressed. The same seed writes the same corpus.
"""

import argparse
import gzip
import json
import os
import random
import uuid

WORDS = (
    "settle retry ledger ack timeout flaky test payments invoice refund webhook queue worker tokio async await "
    "mutex deadlock channel backoff idempotency key schema migration index query cache eviction redis postgres "
    "sqlite transaction rollback commit lock contention panic unwrap error handler middleware router request "
    "response header token session cookie auth oauth jwt expiry clock skew timezone parse serialize json yaml "
    "config env variable feature flag rollout canary metrics latency histogram p95 trace span log level warn "
    "build compile linker dependency version upgrade lockfile workspace crate module trait generic lifetime "
    "borrow clone allocation memory leak profile flamegraph benchmark regression fixture mock snapshot golden"
).split()
PROJECTS = [
    "payments", "checkout", "ledger", "auth-service", "web-frontend", "mobile-api", "search", "notifications",
    "billing", "inventory", "shipping", "analytics", "gateway", "scheduler", "storage", "infra", "docs-site",
    "cli-tools", "ml-pipeline", "reporting", "admin-ui", "webhooks", "identity", "catalog",
]
TOOLS = ["Bash", "Read", "Edit", "Grep", "Glob", "Write"]
ERRORS = [
    "error[E0382]: borrow of moved value: `conn`",
    "test settle::tests::settle_retries ... FAILED: timed out after 5s waiting for the ledger ack",
    "thread 'main' panicked at src/config.rs:88:14: called `Option::unwrap()` on a `None` value",
    "Error: connection refused (os error 111) while connecting to postgres at 127.0.0.1:5432",
    "npm ERR! code ERESOLVE unable to resolve dependency tree",
    "String to replace not found in file.",
    "warning: unused variable `retry` ... error: could not compile `payments` due to 2 previous errors",
]


def sentence(rng, lo, hi):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


def tool_input(rng, tool, project):
    path = f"/home/dev/{project}/src/{rng.choice(WORDS)}/{rng.choice(WORDS)}.rs"
    if tool == "Bash":
        return {"command": f"cargo test -p {project} {rng.choice(WORDS)}_{rng.choice(WORDS)}",
                "description": sentence(rng, 3, 6)}
    if tool in ("Read", "Write"):
        return {"file_path": path}
    if tool == "Edit":
        return {"file_path": path, "old_string": sentence(rng, 4, 10), "new_string": sentence(rng, 4, 12)}
    return {"pattern": rng.choice(WORDS), "path": f"/home/dev/{project}"}


def session(rng, project, start, messages):
    """The events of one session: the request, then turns of text, a call and its result."""
    sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    base = {"parentUuid": None, "isSidechain": False, "userType": "external", "cwd": f"/home/dev/{project}",
            "sessionId": sid, "version": "2.0.14", "gitBranch": "main"}
    t = start
    out = []

    def event(kind, message):
        nonlocal t
        t += rng.randint(200, 40_000)
        e = dict(base)
        e.update({"type": kind, "message": message, "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                  "timestamp": f"{ms_to_iso(t)}"})
        out.append(json.dumps(e, separators=(",", ":")))

    event("user", {"role": "user", "content": f"Please {sentence(rng, 8, 24)} in {project}"})
    count = 1
    n = 0
    while count < messages:
        n += 1
        tool = rng.choice(TOOLS)
        call = f"toolu_{n:04d}{rng.getrandbits(32):08x}"
        blocks = [{"type": "tool_use", "id": call, "name": tool, "input": tool_input(rng, tool, project)}]
        if rng.random() < 0.5:
            blocks.insert(0, {"type": "text", "text": sentence(rng, 10, 40)})
        event("assistant", {"role": "assistant", "model": "claude-sonnet-4-5", "content": blocks,
                            "usage": {"input_tokens": rng.randint(1000, 9000), "output_tokens": rng.randint(20, 400)}})
        count += len(blocks)
        failed = rng.random() < 0.08
        result = rng.choice(ERRORS) if failed else sentence(rng, 20, 120)
        event("user", {"role": "user", "content": [
            {"tool_use_id": call, "type": "tool_result", "content": result, "is_error": failed}]})
        count += 1
    return sid, out, count


def ms_to_iso(ms):
    import datetime
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--gzip-every", type=int, default=4)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    start = 1_767_225_600_000  # 2026-01-01
    span = 182 * 86_400_000
    written = files = 0
    while written < args.messages:
        project = rng.choice(PROJECTS)
        size = min(rng.randint(20, 400), args.messages - written)
        sid, lines, count = session(rng, project, start + rng.randrange(span), max(size, 2))
        directory = os.path.join(args.out, "-home-dev-" + project)
        os.makedirs(directory, exist_ok=True)
        files += 1
        text = "\n".join(lines) + "\n"
        if args.gzip_every and files % args.gzip_every == 0:
            with gzip.open(os.path.join(directory, sid + ".jsonl.gz"), "wt", compresslevel=1) as f:
                f.write(text)
        else:
            with open(os.path.join(directory, sid + ".jsonl"), "w") as f:
                f.write(text)
        written += count
    print(f"{written} messages in {files} sessions under {args.out}")


if __name__ == "__main__":
    main()
