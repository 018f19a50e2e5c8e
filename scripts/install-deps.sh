#!/usr/bin/env bash
# install-deps.sh: installs the Debian 12 packages zkv builds, tests and runs with, only
# when some are missing (so a warm machine pays nothing). Needs root or sudo.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libzookeeper-mt-dev zookeeper default-jre-headless
  libprotobuf-c-dev protobuf-c-compiler
  libleveldb-dev libsnappy-dev
  libuv1-dev libcjson-dev libreadline-dev libcunit1-dev libmicrohttpd-dev
  libev-dev libevent-dev
  libssl-dev openssl curl
  clang libclang-rt-14-dev llvm
  nftables
  help2man systemd prometheus yamllint strace
  docker.io docker-compose debootstrap
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Java 17 may come from outside Debian's packages; accept any java on PATH instead.
if command -v java >/dev/null 2>&1; then
  missing=("${missing[@]/default-jre-headless/}")
fi
read -r -a missing <<<"${missing[*]}"

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: missing packages: ${missing[*]}; run as root or install sudo" >&2
    exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
# zookeeperd is deliberately not installed: it would start a system service on 2181.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
