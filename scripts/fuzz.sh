#!/usr/bin/env bash
# The property tests with many more cases than the suite runs (PROPTEST_CASES, default 20000 here), in release
# mode: the index against brute force, the session-log parser, the cache's record codec, every MCP tool's
# arguments, and damaged index snapshots (those two open real stores per case, so they get a tenth as many).
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${PROPTEST_CASES:-20000}"
export PROPTEST_CASES="$cases"
cargo test --release --locked -p memory-core --lib index::properties
cargo test --release --locked -p memory-core --test properties
cargo test --release --locked -p memory-storage-redb --lib record::tests::properties
PROPTEST_CASES=$((cases / 10)) cargo test --release --locked -p memory-mcp --test mcp properties
PROPTEST_CASES=$((cases / 100)) cargo test --release --locked -p memory-tests --test integration a_damaged_snapshot
