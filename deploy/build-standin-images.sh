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
#   sudo deploy/build-standin-images.sh --rootfs # only the debootstrap tarball, no Docker needed
#                                                # (CI runs it while it installs Docker)
# The root file system is kept as a tarball in $STANDIN_CACHE (default
# /var/cache/cinecluster-standin) and reused for 7 days, so a machine whose images were removed
# does not debootstrap again. The python and postgres images build at the same time.
# Then: PYTHON_IMAGE=python:3.11-slim POSTGRES_IMAGE=postgres:15 docker compose up -d --build
set -euo pipefail

BASE_IMAGE="${STANDIN_BASE_IMAGE:-cinecluster-standin/bookworm:minbase}"
PYTHON_IMAGE="${STANDIN_PYTHON_IMAGE:-python:3.11-slim}"
POSTGRES_IMAGE="${STANDIN_POSTGRES_IMAGE:-postgres:15}"
SUITE=bookworm
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${STANDIN_CACHE:-/var/cache/cinecluster-standin}"
ROOTFS_TAR="$CACHE/$SUITE-minbase.tar"
FORCE=0
ROOTFS_ONLY=0
case "${1:-}" in
    --force) FORCE=1 ;;
    --rootfs) ROOTFS_ONLY=1 ;;
    "") ;;
    *) echo "usage: $0 [--force|--rootfs]" >&2; exit 2 ;;
esac

have_image() { [[ $FORCE == 0 ]] && docker image inspect "$1" >/dev/null 2>&1; }

# shellcheck source=deploy/debian-mirror.sh
source "$HERE/debian-mirror.sh"

# The debootstrap root file system as a tarball in the cache (made when missing, older than 7 days,
# or with --force); written to a temporary name first, so a crash leaves no half tarball behind.
make_rootfs_tar() {
    local mirror rootfs
    if [[ $FORCE == 0 && -s "$ROOTFS_TAR" && -n "$(find "$ROOTFS_TAR" -mtime -7)" ]]; then
        return 0
    fi
    mirror="$(debian_mirror "$SUITE")"
    if [[ -z "$mirror" ]]; then
        echo "error: no Debian $SUITE mirror found in /etc/apt/sources.list{,.d/}" >&2
        exit 2
    fi
    mkdir -p "$CACHE"
    rootfs="$(mktemp -d /tmp/cinecluster-standin-rootfs.XXXXXX)"
    trap 'rm -rf "$rootfs" "$ROOTFS_TAR.tmp.$$"' EXIT
    echo "debootstrap $SUITE from $mirror" >&2
    debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >/dev/null
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -cf "$ROOTFS_TAR.tmp.$$" .
    mv "$ROOTFS_TAR.tmp.$$" "$ROOTFS_TAR"
    rm -rf "$rootfs"
    trap - EXIT
}

build_base() {
    make_rootfs_tar
    docker import --change 'CMD ["bash"]' "$ROOTFS_TAR" "$BASE_IMAGE" >/dev/null
}

# The machine's own CA certificates (e.g. of a TLS-intercepting proxy in front of PyPI) go into
# the image that runs pip; an empty folder when there are none.
python_context() {
    local context="$1"
    cp -r "$HERE/standin/python/." "$context/"
    mkdir -p "$context/ca-certificates"
    find /usr/local/share/ca-certificates -name '*.crt' -exec cp {} "$context/ca-certificates/" \; 2>/dev/null || true
}

if [[ $ROOTFS_ONLY == 1 ]]; then
    make_rootfs_tar
    echo "stand-in root file system: $ROOTFS_TAR"
    exit 0
fi
if ! have_image "$BASE_IMAGE"; then
    build_base
fi
# The two images at once: each spends most of its time in apt-get, waiting on the mirror.
pids=()
if ! have_image "$PYTHON_IMAGE"; then
    context="$(mktemp -d /tmp/cinecluster-standin-python.XXXXXX)"
    python_context "$context"
    (docker build --quiet --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$PYTHON_IMAGE" "$context" >/dev/null
     rm -rf "$context") &
    pids+=($!)
fi
if ! have_image "$POSTGRES_IMAGE"; then
    docker build --quiet --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$POSTGRES_IMAGE" "$HERE/standin/postgres" >/dev/null &
    pids+=($!)
fi
failed=0
for pid in "${pids[@]}"; do
    wait "$pid" || failed=1
done
if [[ $failed == 1 ]]; then
    echo "error: a stand-in image failed to build (docker build's output is above)" >&2
    exit 1
fi
echo "stand-in images: $PYTHON_IMAGE $POSTGRES_IMAGE (base $BASE_IMAGE)"
