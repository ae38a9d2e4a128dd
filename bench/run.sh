#!/usr/bin/env bash
# make bench: print start latency, density and memory figures. Asserts nothing about speed.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(mktemp -d /tmp/mkl-bench.XXXXXX)
trap '"$here/$build/mini-kubelet" down --root-dir "$root" >/dev/null 2>&1 || true; rm -rf "$root"' EXIT
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
python3 "$here/bench/podstart.py" "$here/$build/mini-kubelet" "$root" "$here/$build/images"
if command -v podman >/dev/null 2>&1; then
    echo "podman $(podman --version | awk '{print $3}') is installed; side-by-side: see docs/performance.md for the method"
else
    echo "podman: not installed here, no side-by-side ratio"
fi
