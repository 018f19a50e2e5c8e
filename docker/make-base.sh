#!/usr/bin/env bash
# make-base.sh [--force] [IMAGE]: makes the base image of docker/Dockerfile and
# docker/zookeeper/Dockerfile, zkv-base:bookworm (IMAGE), when it is absent (--force: again):
# a minimal Debian 12 (debootstrap --variant=minbase) imported with `docker import`, so no
# image registry is needed, only a Debian mirror. Its apt sources are the mirror's
# bookworm and bookworm-updates and the security archive's bookworm-security; the
# documentation is left out (dpkg path excludes, copyright files kept) and apt's caches
# are emptied. Needs root (debootstrap), docker and debootstrap.
#
#   ZKV_DEBIAN_MIRROR    the Debian mirror (default http://deb.debian.org/debian)
#   ZKV_DEBIAN_SECURITY  the security archive (default http://deb.debian.org/debian-security;
#                        empty: none)
set -euo pipefail
force=0
if [ "${1:-}" = "--force" ]; then force=1; shift; fi
image="${1:-zkv-base:bookworm}"
mirror="${ZKV_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security="${ZKV_DEBIAN_SECURITY-http://deb.debian.org/debian-security}"

if [ "$force" = 0 ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "make-base: $image exists"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || { echo "make-base: debootstrap needs root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "make-base: debootstrap is not installed" >&2; exit 1; }

dir="$(mktemp -d /var/tmp/zkv-base.XXXXXX)"
trap 'rm -rf "$dir"' EXIT
root="$dir/rootfs"
echo "make-base: debootstrap --variant=minbase bookworm from $mirror (log: $dir/debootstrap.log)"
if ! debootstrap --variant=minbase bookworm "$root" "$mirror" >"$dir/debootstrap.log" 2>&1; then
  tail -n 30 "$dir/debootstrap.log" >&2
  echo "make-base: debootstrap failed" >&2
  exit 1
fi

{
  echo "deb $mirror bookworm main"
  echo "deb $mirror bookworm-updates main"
  if [ -n "$security" ]; then echo "deb $security bookworm-security main"; fi
} >"$root/etc/apt/sources.list"
# What containers do not need: documentation (kept out of later installs too) and caches.
cat >"$root/etc/dpkg/dpkg.cfg.d/zkv-docker-nodoc" <<'CFG'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
CFG
cat >"$root/etc/apt/apt.conf.d/zkv-docker-clean" <<'CFG'
APT::Install-Recommends "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
CFG
find "$root/usr/share/doc" -type f ! -name copyright -delete
find "$root/usr/share/doc" -type l -delete
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/lib/apt/lists/* \
  "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/log/*.log
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
# (update-alternatives links man pages there: Java's postinst fails without the folders)
mkdir -p "$root"/usr/share/man/man{1,2,3,4,5,6,7,8}

tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' \
  - "$image" >/dev/null
echo "make-base: imported $image ($(docker image inspect -f '{{.Size}}' "$image") bytes)"
