#!/usr/bin/env bash
# build-base-image.sh [--rebuild]: builds the local base image for the containerised cluster (scripts/compose-up.sh)
# where no registry is reachable: Debian bookworm from debootstrap --variant=minbase, imported with podman import.
# It carries what every service here needs, from Debian packages: the .NET runtime's native dependencies (ICU,
# OpenSSL, CA certificates) and an `app` user (uid 1654, as in Microsoft's images) for the Repl image, etcd
# (Debian's 3.4.23, as the compose file's etcd image) and nginx. The image is kept (podman image exists), so only
# the first run pays for debootstrap. --rebuild builds it again.
#
#   REPL_BASE_IMAGE   tag of the image (localhost/repl-base:bookworm)
#   DEBIAN_MIRROR     the mirror debootstrap downloads from (http://deb.debian.org/debian)
set -euo pipefail
IMAGE="${REPL_BASE_IMAGE:-localhost/repl-base:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES=ca-certificates,libicu72,libssl3,etcd-server,etcd-client,nginx-light
if [ "${1:-}" != "--rebuild" ] && podman image exists "$IMAGE"; then
  echo "base image $IMAGE present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
rootfs="$(mktemp -d /var/tmp/repl-base.XXXXXX)"
trap '$SUDO rm -rf "$rootfs"' EXIT
echo "building base image $IMAGE (debootstrap bookworm from $MIRROR; a few minutes, once)"
$SUDO debootstrap --variant=minbase --include="$PACKAGES" bookworm "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 \
  || { tail -20 "$rootfs.log" >&2; echo "debootstrap failed; the whole log is $rootfs.log" >&2; exit 1; }
rm -f "$rootfs.log"
# Services run in the foreground under the container runtime: no init, and Debian's default nginx site (on :80) would
# shadow the compose file's. Logs go to the container's output, as in the official nginx image.
$SUDO rm -f "$rootfs/etc/nginx/sites-enabled/default"
$SUDO ln -sf /dev/stdout "$rootfs/var/log/nginx/access.log"
$SUDO ln -sf /dev/stderr "$rootfs/var/log/nginx/error.log"
$SUDO chroot "$rootfs" useradd --uid 1654 --user-group --no-create-home --home-dir /app --shell /usr/sbin/nologin app
$SUDO chroot "$rootfs" apt-get clean
$SUDO rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
$SUDO tar -C "$rootfs" -c . | podman import --quiet --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$IMAGE" >/dev/null
echo "base image $IMAGE built"
