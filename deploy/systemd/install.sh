#!/usr/bin/env bash
# Installs or upgrades mw-agent on a plant gateway (Debian/Ubuntu with systemd, Node.js 20.19+).
# Idempotent: run it again to upgrade the app; it never overwrites an existing agent.yaml.
#
# usage: install.sh --app DIR [--config FILE] [--creds FILE] [--ca FILE] [--no-start] [--root DIR]
#   --app DIR      the agent as built by
#                  `pnpm --filter @millwright/edge-agent deploy --prod --legacy DIR` (dist/ + node_modules/)
#   --config FILE  install this agent.yaml (default: the example, only if none is installed)
#   --creds FILE   the agent's NATS .creds file -> /etc/millwright/creds/nats.creds (0600)
#   --ca FILE      CA certificate of the plant gateway's NATS -> /etc/millwright/tls/ca.pem
#   --no-start     install and enable nothing at boot; do not start or restart the service
#   --root DIR     stage into DIR instead of / (packaging, tests): no user, no chown, no systemctl
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
app="" config="" creds="" ca="" start=1 root=""
while (($#)); do
  case $1 in
    --app) app=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --creds) creds=$2; shift 2 ;;
    --ca) ca=$2; shift 2 ;;
    --no-start) start=0; shift ;;
    --root) root=$2; shift 2 ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 64 ;;
  esac
done

say() { printf '[mw-agent install] %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[[ -n $app ]] || die "--app DIR is required (a pnpm deploy of @millwright/edge-agent)"
[[ -f $app/dist/main.js ]] || die "$app/dist/main.js not found: not a built agent"
[[ -d $app/node_modules ]] || die "$app/node_modules not found: build it with pnpm deploy --prod"
if [[ -z $root ]]; then
  [[ $(id -u) -eq 0 ]] || die "run as root (or with --root DIR to stage)"
  command -v systemctl >/dev/null || die "systemctl not found: this script needs systemd"
fi

node=$(command -v node || true)
[[ -n $node ]] || die "node not found: install Node.js 20.19 or newer"
"$node" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)' ||
  die "Node.js $("$node" --version) is too old: need 20.19 or newer"

owner() { # owner USER:GROUP PATH...
  [[ -z $root ]] || return 0
  chown "$@"
}

# 1. The service user: system account, no login, no home of its own.
if [[ -z $root ]]; then
  if ! getent passwd millwright >/dev/null; then
    say "creating system user millwright"
    useradd --system --user-group --home-dir /var/lib/millwright --no-create-home \
      --shell /usr/sbin/nologin --comment "Millwright edge agent" millwright
  fi
  if getent group dialout >/dev/null; then usermod -a -G dialout millwright; fi
fi

# 2. Directories. /etc/millwright is readable by the agent, writable only by root.
install -d -m 0755 "$root/opt/millwright"
install -d -m 0750 "$root/etc/millwright" "$root/etc/millwright/tls"
owner root:millwright "$root/etc/millwright" "$root/etc/millwright/tls"
install -d -m 0700 "$root/etc/millwright/creds"
owner millwright:millwright "$root/etc/millwright/creds"
# systemd creates it too (StateDirectory); creating it here lets a staged tree be inspected.
install -d -m 0700 "$root/var/lib/millwright"
owner millwright:millwright "$root/var/lib/millwright"
install -d -m 0755 "$root/etc/systemd/system"

# 3. The app: copied next to the current one, then swapped in; the previous one is kept for rollback.
dest="$root/opt/millwright/agent"
rm -rf "$dest.new"
cp -a "$app/." "$dest.new"
chmod -R u=rwX,go=rX "$dest.new"
owner -R root:root "$dest.new"
if [[ -d $dest ]]; then
  rm -rf "$dest.prev"
  mv "$dest" "$dest.prev"
fi
mv "$dest.new" "$dest"
say "app installed in ${dest#"$root"}"

# 4. Config: never overwrite what the operator edited, unless a file is given explicitly.
if [[ -n $config ]]; then
  install -m 0640 "$config" "$root/etc/millwright/agent.yaml"
elif [[ ! -e $root/etc/millwright/agent.yaml ]]; then
  install -m 0640 "$here/agent.yaml" "$root/etc/millwright/agent.yaml"
  say "example config installed: edit /etc/millwright/agent.yaml (agentId, siteId, nats.url)"
fi
owner root:millwright "$root/etc/millwright/agent.yaml"
if [[ -n $creds ]]; then
  install -m 0600 "$creds" "$root/etc/millwright/creds/nats.creds"
  owner millwright:millwright "$root/etc/millwright/creds/nats.creds"
fi
if [[ -n $ca ]]; then
  install -m 0644 "$ca" "$root/etc/millwright/tls/ca.pem"
fi

# 5. The unit, pointing at this machine's node.
sed "s|^ExecStart=/usr/bin/node |ExecStart=$node |" "$here/mw-agent.service" >"$root/etc/systemd/system/mw-agent.service.tmp"
chmod 0644 "$root/etc/systemd/system/mw-agent.service.tmp"
mv "$root/etc/systemd/system/mw-agent.service.tmp" "$root/etc/systemd/system/mw-agent.service"

if [[ -n $root ]]; then
  say "staged into $root (no systemctl)"
  exit 0
fi
systemctl daemon-reload
if ((start)); then
  if systemctl is-active --quiet mw-agent.service; then
    systemctl enable mw-agent.service
    systemctl restart mw-agent.service # an upgrade: the running agent picks up the new app
  else
    systemctl enable --now mw-agent.service
  fi
  systemctl --no-pager --lines=5 status mw-agent.service || true
else
  say "installed; start with: systemctl enable --now mw-agent"
fi
