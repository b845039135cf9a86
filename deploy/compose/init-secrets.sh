#!/usr/bin/env bash
# Writes the compose stack's secrets into deploy/compose/secrets/ (directory 0700), once: existing files are
# kept, so re-running never changes a password a running database already uses.
#
# Also a private CA and the control plane's TLS certificate (gRPC and dashboard), valid for the
# replicas' service names, localhost, 127.0.0.1 and ::1. More names (the host's DNS name or address,
# for mwctl or a browser on another machine) come from EXTRA_SANS:
#   EXTRA_SANS='DNS:millwright.example.com,IP:10.0.0.5' bash deploy/compose/init-secrets.sh
# The certificate is reissued when it is missing, no longer verifies against the CA or expires within
# 30 days; delete secrets/control-plane.pem to reissue it with other names. The CA (ca.pem, 10 years)
# is kept: clients that trust it keep working across reissues.
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
# The first admin API token (auth.bootstrapAdminTokenFile): mwt_ + 32 random bytes, base64url.
put admin_token "mwt_$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n')"
[[ -s secrets/signing_key.pem ]] || openssl genpkey -algorithm ed25519 -out secrets/signing_key.pem

sans="DNS:control-plane-1,DNS:control-plane-2,DNS:localhost,IP:127.0.0.1,IP:::1${EXTRA_SANS:+,$EXTRA_SANS}"
# Our own openssl config, so the extensions do not depend on the distribution's openssl.cnf.
conf=$(mktemp)
trap 'rm -f "$conf" "$conf.csr"' EXIT
cat > "$conf" <<EOF
[req]
distinguished_name = dn
[dn]
[mw_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[mw_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $sans
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
if [[ ! -s secrets/ca.pem || ! -s secrets/ca-key.pem ]]; then
  openssl req -x509 "${ec[@]}" -config "$conf" -extensions mw_ca -subj "/CN=Millwright compose CA" \
    -days 3650 -keyout secrets/ca-key.pem -out secrets/ca.pem 2>/dev/null
fi
cert_usable() {
  [[ -s secrets/control-plane.pem && -s secrets/control-plane-key.pem ]] &&
    openssl verify -CAfile secrets/ca.pem secrets/control-plane.pem >/dev/null 2>&1 &&
    openssl x509 -checkend $((30 * 24 * 3600)) -noout -in secrets/control-plane.pem >/dev/null
}
if ! cert_usable; then
  openssl req -new "${ec[@]}" -config "$conf" -subj "/CN=millwright-control-plane" \
    -keyout secrets/control-plane-key.pem -out "$conf.csr" 2>/dev/null
  openssl x509 -req -in "$conf.csr" -CA secrets/ca.pem -CAkey secrets/ca-key.pem \
    -set_serial "0x$(openssl rand -hex 16)" -days 825 -extfile "$conf" -extensions mw_server \
    -out secrets/control-plane.pem 2>/dev/null
fi

# Compose (without swarm) bind-mounts secret files with their host owner and mode, and the services
# run as different users (postgres 999, the Millwright images 1000): the files are world-readable
# and the directory (0700) is what keeps other users of this host out. The CA key is mounted
# nowhere and stays readable by its owner only.
chmod 0700 secrets
chmod 0644 secrets/*
chmod 0600 secrets/ca-key.pem
echo "secrets in $(pwd)/secrets"
