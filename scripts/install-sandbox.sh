#!/usr/bin/env bash
# Builds the code sandbox's JavaScript engine, a WASI preview 1 module, into .tools/sandbox/quickjs.wasm.
#
# The interpreter is QuickJS-NG, compiled from the C sources in the crates.io package rquickjs-sys (pinned
# version, sha256 of the package checked) around sandbox/runner.c, with Debian's clang and wasi-libc. The package
# is fetched by cargo itself, from a throwaway manifest that pins it exactly. Idempotent: nothing is done when the
# module was already built from the same inputs with the same flags.
#
# Needs: cargo, tar, sha256sum, and the Debian packages clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32
# (installed with apt-get when missing and this runs as root).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out_dir="$root/.tools/sandbox"
wasm="$out_dir/quickjs.wasm"
stamp="$out_dir/quickjs.wasm.inputs"

QUICKJS_CRATE="rquickjs-sys"
QUICKJS_CRATE_VERSION="0.14.0"
QUICKJS_CRATE_SHA256="cee271d0eeba64f0915b846cb7ae02e16faf3dfdffdca91731101d9d30fe3423"
CC="clang-14"
APT_PACKAGES=(clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32)
SOURCES=(dtoa.c libregexp.c libunicode.c quickjs.c)
# A 1 MiB shadow stack placed first in linear memory, so that running off it is an out-of-bounds access (a trap)
# rather than a silent overwrite of the heap.
CFLAGS=(--target=wasm32-wasi -O2 -D_GNU_SOURCE -Wno-everything)
LDFLAGS=(-lm -Wl,-z,stack-size=1048576 -Wl,--stack-first -Wl,--strip-all)

inputs="$QUICKJS_CRATE $QUICKJS_CRATE_VERSION $QUICKJS_CRATE_SHA256
$(sha256sum "$root/sandbox/runner.c" | cut -d' ' -f1)
${CFLAGS[*]} ${LDFLAGS[*]} ${SOURCES[*]}"

if [ -f "$wasm" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ]; then
  echo "sandbox engine: $wasm (up to date)" >&2
  exit 0
fi

if ! command -v "$CC" >/dev/null || [ ! -f /usr/lib/wasm32-wasi/libc.a ] \
  || ! compgen -G "/usr/lib/llvm-14/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a" >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${APT_PACKAGES[*]}" >&2
    apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null \
      || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null; }
  else
    echo "the sandbox engine needs the Debian packages: ${APT_PACKAGES[*]}" >&2
    exit 1
  fi
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# cargo downloads the package and checks it against the registry index's checksum; the pinned sha256 is checked
# again below, on the archive itself.
mkdir -p "$work/fetch/src"
cat > "$work/fetch/Cargo.toml" <<TOML
[package]
name = "sandbox-engine-sources"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
$QUICKJS_CRATE = { version = "=$QUICKJS_CRATE_VERSION", default-features = false }

[workspace]
TOML
echo 'fn main() {}' > "$work/fetch/src/main.rs"
(cd "$work/fetch" && cargo fetch --quiet)
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
archive="$(ls "$cargo_home"/registry/cache/*/"$QUICKJS_CRATE-$QUICKJS_CRATE_VERSION.crate" | head -n1)"
if ! echo "$QUICKJS_CRATE_SHA256  $archive" | sha256sum --check --status; then
  echo "$archive: checksum mismatch, expected $QUICKJS_CRATE_SHA256" >&2
  sha256sum "$archive" >&2
  exit 1
fi
tar xzf "$archive" -C "$work"
src="$work/$QUICKJS_CRATE-$QUICKJS_CRATE_VERSION/quickjs"

echo "building the sandbox engine (QuickJS-NG from $QUICKJS_CRATE $QUICKJS_CRATE_VERSION)" >&2
(cd "$src" && "$CC" "${CFLAGS[@]}" -I. "${SOURCES[@]}" "$root/sandbox/runner.c" "${LDFLAGS[@]}" -o "$work/quickjs.wasm")

mkdir -p "$out_dir"
install -m 0644 "$work/quickjs.wasm" "$wasm.tmp"
mv "$wasm.tmp" "$wasm"
echo "$inputs" > "$stamp"
echo "sandbox engine: $wasm ($(stat -c %s "$wasm") bytes, sha256 $(sha256sum "$wasm" | cut -d' ' -f1))" >&2
