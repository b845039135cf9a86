#!/usr/bin/env bash
# Writes the compose stack's secrets into deploy/compose/secrets/ (directory 0700), once: existing files are
# kept, so re-running never changes a password a running database already uses.
set -euo pipefail
cd "$(dirname "$0")"
umask 077
mkdir -p secrets
rand() { openssl rand -hex 24; }
put() { [[ -s secrets/$1 ]] || printf '%s' "$2" > "secrets/$1"; }
put postgres_password "$(rand)"
put database_url "postgres://millwright:$(cat secrets/postgres_password)@postgres:5432/millwright"
put s3_access_key_id "millwright"
put s3_secret_access_key "$(rand)"
[[ -s secrets/signing_key.pem ]] || openssl genpkey -algorithm ed25519 -out secrets/signing_key.pem
# Compose (without swarm) bind-mounts secret files with their host owner and mode, and the services
# run as different users (postgres 999, the Millwright images 1000): the files are world-readable
# and the directory (0700) is what keeps other users of this host out.
chmod 0700 secrets
chmod 0644 secrets/*
echo "secrets in $(pwd)/secrets"
