#!/usr/bin/env bash
# freshmem.sh [GB] [DIR]: how fast this machine fills memory it has not used lately, one
# GiB at a time. Writes GB (default 12) files of 1 GiB into DIR (default /dev/shm: tmpfs,
# so no disk is involved), in 10,000-byte writes as a value log does, prints each GiB's
# rate, and deletes them. On a VM that hands freed memory back to its host (free page
# reporting), touching fresh pages can cost a host fault each: docs/performance.md,
# "Three nodes on one VM", shows the rate falling from 1.6-1.9 GB/s to 0.22 GB/s past
# about 8 GiB here, which is where a 3-node cluster's third round of 10 KB PUTs slowed.
# No zkv program is involved: this measures the machine, to read beside the benchmarks.
set -euo pipefail
gb="${1:-12}"
dir="${2:-/dev/shm}"
case "$gb" in '' | *[!0-9]*) echo "freshmem: GB takes a number" >&2; exit 2 ;; esac
work="$(mktemp -d "$dir/zkv-freshmem.XXXXXX")"
trap 'rm -rf "$work"' EXIT
avail_gb=$(awk '/^MemAvailable:/ { print int($2 / 1048576) }' /proc/meminfo)
[ "$gb" -lt "$avail_gb" ] || { echo "freshmem: only $avail_gb GiB available" >&2; exit 1; }
echo "# freshmem: $gb GiB into $dir, $(nproc) CPUs, $(date -u +%FT%TZ)"
for i in $(seq 1 "$gb"); do
  # dd reports its own rate on its last line; bs=10000 as a 10 KB value's append
  rate=$(dd if=/dev/zero of="$work/f$i" bs=10000 count=107374 2>&1 | awk -F', ' 'END { print $NF }')
  echo "GiB $i: $rate"
done
