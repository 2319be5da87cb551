#!/usr/bin/env bash
# Compose v2 (`docker compose`) on Debian 12 (bookworm) from Debian's own packages. Bookworm
# packages only Compose v1.29 (`docker-compose`); Debian 13 (trixie) packages v2 under the same
# name (docker-compose 2.x), a static Go binary that needs nothing but libc6 >= 2.34 (bookworm
# has 2.36). This fetches that package with apt-get from trixie's signed index, in an apt state
# of its own (the machine's sources, package lists and installed packages are left alone; Debian's
# docker-compose 1.29 stays installed), and installs its binary as a Docker CLI plugin.
# Needs root.
#
#   sudo deploy/install-compose-v2.sh     # then: docker compose version
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
PLUGIN_DIR="${COMPOSE_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}"
# shellcheck source=deploy/debian-mirror.sh
source "$HERE/debian-mirror.sh"

mirror="$(debian_mirror bookworm)"
if [[ -z "$mirror" ]]; then
    echo "error: no Debian bookworm mirror found in /etc/apt/sources.list{,.d/}" >&2
    exit 2
fi
work="$(mktemp -d /tmp/cinecluster-compose-v2.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$work/sources.list"
apt_options=(
    -q -o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root
)
apt-get "${apt_options[@]}" update >/dev/null
(cd "$work" && apt-get "${apt_options[@]}" download docker-compose/trixie >/dev/null)
deb="$(echo "$work"/docker-compose_*.deb)"
version="$(dpkg-deb --field "$deb" Version)"
if [[ "$version" != 2.* ]]; then
    echo "error: trixie's docker-compose is $version, not Compose v2" >&2
    exit 1
fi
dpkg-deb --extract "$deb" "$work/root"
install -D -m 755 "$work/root/usr/libexec/docker/cli-plugins/docker-compose" "$PLUGIN_DIR/docker-compose"
echo "Compose v2 (Debian trixie's docker-compose $version): $PLUGIN_DIR/docker-compose"
