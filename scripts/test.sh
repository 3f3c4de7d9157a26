#!/usr/bin/env bash
# The whole test suite: installs what the tests need (scripts/install-test-deps.sh), then checks formatting and
# lints, then runs every test of the workspace, including those against a real sqld.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The embedders are optional features of memory-core: the core must build without them.
cargo check -p memory-core --no-default-features --locked
cargo test --workspace --locked
