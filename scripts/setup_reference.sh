#!/usr/bin/env bash
# Makes .venv-ref, the Python environment of the Hugging Face reference checks (tests/reference,
# scripts/reference/hf): transformers, tokenizers, TensorBoard and PyTorch, pinned in
# scripts/reference/hf/requirements.txt, from PyPI. Idempotent: a venv made from the same
# requirements is kept (a stamp holds their hash). VENV (default .venv-ref) may be set. Needs
# Debian's python3 and python3-venv (installed here when missing). scripts/test.sh runs this;
# SKIP_REFERENCE=1 there skips it, and the reference tests then print SKIPPED (outside CI).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-ref}
REQ=scripts/reference/hf/requirements.txt
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" = "$want" ]; then
  echo "setup_reference: $VENV is up to date"
  exit 0
fi
if ! /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends python3 python3-venv
fi
start=$(date +%s)
rm -rf "$VENV"
/usr/bin/python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check --no-input -r "$REQ"
echo "$want" > "$VENV/.requirements.sha256"
echo "setup_reference: made $VENV in $(( $(date +%s) - start )) s"
