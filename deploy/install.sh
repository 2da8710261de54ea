#!/bin/sh
# Installs segwatch on Debian 12+/Raspberry Pi OS as a hardened systemd service.
# Run as root from an unpacked release (or a built checkout: dist/ must exist):
#   sudo deploy/install.sh [--prefix /opt/segwatch]
#
# Node.js 20 or newer is required. Debian bookworm (and Raspberry Pi OS based on it) ships
# Node 18, which is too old; Debian trixie ships Node 20. On bookworm, install Node 20 first from
# NodeSource's apt repository (https://github.com/nodesource/distributions) or the official
# tarball; this script does not pipe anything from the network into a shell for you.
set -eu

PREFIX=/opt/segwatch
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

SRC=$(cd "$(dirname "$0")/.." && pwd)
CONF=/etc/segwatch
UNIT=/etc/systemd/system/segwatch.service

die() { echo "install.sh: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (sudo)"
[ -f "$SRC/dist/collector/cli/main.js" ] || die "$SRC/dist is missing: run 'npm ci && npm run build' first"

# Node: from the distribution when it is new enough, otherwise stop with instructions.
if ! command -v node >/dev/null 2>&1; then
  apt-get update
  apt-get install -y --no-install-recommends nodejs || true
fi
command -v node >/dev/null 2>&1 || die "node not found: install Node.js 20+ (see the top of this script)"
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" -ge 20 ] || die "Node.js $(node --version) is too old: segwatch needs 20+ (see the top of this script)"
NODE_BIN=$(command -v node)

# libpcap for live capture (the pcap addon links against it).
apt-get install -y --no-install-recommends libpcap0.8

# A dedicated system user with no shell and no home outside the state directory.
if ! id segwatch >/dev/null 2>&1; then
  adduser --system --group --home /var/lib/segwatch --no-create-home --shell /usr/sbin/nologin segwatch
fi

# The application, owned by root: the service can read it but not change it.
install -d -m 0755 "$PREFIX"
for item in dist node_modules policies package.json; do
  [ -e "$SRC/$item" ] || continue
  rm -rf "${PREFIX:?}/$item"
  cp -R "$SRC/$item" "$PREFIX/$item"
done
chown -R root:root "$PREFIX"
chmod -R go-w "$PREFIX"

# The state directory (systemd's StateDirectory= creates it too; this covers a first manual run).
install -d -m 0750 -o segwatch -g segwatch /var/lib/segwatch

# Configuration: never overwrite what the admin already edited.
install -d -m 0750 -o root -g segwatch "$CONF"
if [ ! -e "$CONF/site.yaml" ] && [ -e "$SRC/policies/site.yaml" ]; then
  install -m 0640 -o root -g segwatch "$SRC/policies/site.yaml" "$CONF/site.yaml"
fi
if [ ! -e "$CONF/segwatch.yaml" ]; then
  cat > "$CONF/segwatch.yaml" <<YAML
# segwatch collector configuration; secrets live in segwatch.env, not here.
policy: $CONF/site.yaml
# interface: eth0.50
influx: http://127.0.0.1:8086/segwatch
listen: 127.0.0.1:9808
# devices, open anomalies (state.db) and the InfluxDB spool; back it up (see the README)
state_dir: /var/lib/segwatch
YAML
  chown root:segwatch "$CONF/segwatch.yaml"
  chmod 0640 "$CONF/segwatch.yaml"
fi
# Secrets: a random API token, generated here and readable by root only (systemd reads the
# EnvironmentFile as root before dropping privileges). No default passwords, ever.
if [ ! -e "$CONF/segwatch.env" ]; then
  umask 077
  TOKEN=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
  {
    echo "# segwatch secrets (mode 600). Add SEGWATCH_INFLUX_PASSWORD= when InfluxDB has auth on."
    echo "SEGWATCH_API_TOKEN=$TOKEN"
  } > "$CONF/segwatch.env"
  chmod 0600 "$CONF/segwatch.env"
  chown root:root "$CONF/segwatch.env"
fi

# The unit names /usr/bin/node; point it at wherever node really is.
sed "s#^ExecStart=/usr/bin/node #ExecStart=$NODE_BIN #; s#/opt/segwatch/#$PREFIX/#g" \
  "$SRC/deploy/segwatch.service" > "$UNIT"
chmod 0644 "$UNIT"
if command -v systemd-analyze >/dev/null 2>&1; then
  systemd-analyze verify "$UNIT" || die "systemd-analyze verify failed for $UNIT"
fi
systemctl daemon-reload
systemctl enable segwatch.service

echo "segwatch installed in $PREFIX."
echo "Edit $CONF/segwatch.yaml (interface) and $CONF/site.yaml (policy), then: systemctl start segwatch"
echo "Your API token is in $CONF/segwatch.env."
