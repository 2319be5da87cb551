#!/usr/bin/env bash
# Local stand-ins for the base images the Dockerfile and docker-compose.yml use, built from
# Debian packages only, for machines that cannot pull from a registry:
#   python:3.11-slim  Debian bookworm's python3 (3.11) with venv and pip
#   postgres:15       Debian bookworm's postgresql-15 behind an entrypoint with the official
#                     image's contract (POSTGRES_USER/PASSWORD/DB, PGDATA, pg_isready)
# Both sit on one `debootstrap --variant=minbase bookworm` root file system imported as an image,
# fetched from the Debian mirror apt on this machine already uses. Needs root and debootstrap.
#
#   sudo deploy/build-standin-images.sh          # builds what is missing
#   sudo deploy/build-standin-images.sh --force  # rebuilds all three
# Then: PYTHON_IMAGE=python:3.11-slim POSTGRES_IMAGE=postgres:15 docker compose up -d --build
set -euo pipefail

BASE_IMAGE="${STANDIN_BASE_IMAGE:-cinecluster-standin/bookworm:minbase}"
PYTHON_IMAGE="${STANDIN_PYTHON_IMAGE:-python:3.11-slim}"
POSTGRES_IMAGE="${STANDIN_POSTGRES_IMAGE:-postgres:15}"
SUITE=bookworm
HERE="$(cd "$(dirname "$0")" && pwd)"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

have_image() { [[ $FORCE == 0 ]] && docker image inspect "$1" >/dev/null 2>&1; }

# The first http(s) mirror apt is configured with for the suite (one-line or deb822 format).
debian_mirror() {
    local file files=()
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -f "$file" ]] && files+=("$file")
    done
    [[ ${#files[@]} -gt 0 ]] || return 0
    awk -v suite="$SUITE" '
        /^[[:space:]]*deb[[:space:]]/ {
            i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
            if ($(i + 1) == suite) { print $i; exit }
        }
        /^Types:/ { binary = ($0 ~ /[[:space:]]deb([[:space:]]|$)/) }
        /^URIs:/ { uri = $2 }
        /^Suites:/ { for (j = 2; j <= NF; j++) if ($j == suite && binary && uri != "") { print uri; exit } }
        /^[[:space:]]*$/ { uri = ""; binary = 0 }
    ' "${files[@]}" | head -n 1
}

build_base() {
    local mirror rootfs
    mirror="$(debian_mirror)"
    if [[ -z "$mirror" ]]; then
        echo "error: no Debian $SUITE mirror found in /etc/apt/sources.list{,.d/}" >&2
        exit 2
    fi
    rootfs="$(mktemp -d /tmp/cinecluster-standin-rootfs.XXXXXX)"
    trap 'rm -rf "$rootfs"' EXIT
    echo "debootstrap $SUITE from $mirror" >&2
    debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >/dev/null
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
    rm -rf "$rootfs"
    trap - EXIT
}

# The machine's own CA certificates (e.g. of a TLS-intercepting proxy in front of PyPI) go into
# the image that runs pip; an empty folder when there are none.
python_context() {
    local context="$1"
    cp -r "$HERE/standin/python/." "$context/"
    mkdir -p "$context/ca-certificates"
    find /usr/local/share/ca-certificates -name '*.crt' -exec cp {} "$context/ca-certificates/" \; 2>/dev/null || true
}

if ! have_image "$BASE_IMAGE"; then
    build_base
fi
if ! have_image "$PYTHON_IMAGE"; then
    context="$(mktemp -d /tmp/cinecluster-standin-python.XXXXXX)"
    python_context "$context"
    docker build --quiet --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$PYTHON_IMAGE" "$context" >/dev/null
    rm -rf "$context"
fi
if ! have_image "$POSTGRES_IMAGE"; then
    docker build --quiet --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$POSTGRES_IMAGE" "$HERE/standin/postgres" >/dev/null
fi
echo "stand-in images: $PYTHON_IMAGE $POSTGRES_IMAGE (base $BASE_IMAGE)"
