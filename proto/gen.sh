#!/usr/bin/env bash
# Generates src/gen from millwright/v1/*.proto with buf + ts-proto.
# --check regenerates into a temp dir and fails if the committed output differs.
set -euo pipefail
cd "$(dirname "$0")"
buf=./node_modules/.bin/buf
if [[ "${1:-}" == "--check" ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  sed "s#out: src/gen#out: $tmp/gen#" buf.gen.yaml > "$tmp/buf.gen.yaml"
  $buf generate --template "$tmp/buf.gen.yaml"
  if ! diff -r "$tmp/gen" src/gen >/dev/null; then
    echo "proto/src/gen is stale: run 'pnpm gen' and commit the result" >&2
    diff -r "$tmp/gen" src/gen | head -20 >&2
    exit 1
  fi
  echo "proto/src/gen is up to date"
else
  rm -rf src/gen
  $buf generate
fi
