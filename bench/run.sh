#!/usr/bin/env bash
# make bench: print start latency, teardown, density and memory figures, without a pod network
# and with CNI bridge networking, and what the CNI plugins cost on their own. Asserts nothing
# about speed. Needs root (the networked run creates a bridge, veths and iptables rules; all of
# it is removed on exit, Ctrl-C included, and anything left is reported).
#
# Usage: bench/run.sh [BUILD_DIR]   (default build; relative to the source tree or absolute)
# MK_BENCH_BRIDGE (default mkbench0) and MK_BENCH_CIDR (default 10.211.0.0/16) choose the
# networked run's bridge and subnet; neither may be in use on the machine.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
case $build in
/*) bdir=$build ;;
*) bdir=$here/$build ;;
esac
bin=$bdir/mini-kubelet
bridge=${MK_BENCH_BRIDGE:-mkbench0}
cidr=${MK_BENCH_CIDR:-10.211.0.0/16}
netns=mkbench-$$
plugins=/usr/lib/cni
[ -x "$bin" ] || { echo "no $bin: build first (make build)" >&2; exit 1; }

work=$(mktemp -d /tmp/mkl-bench.XXXXXX)
# Stop every pod of a root and DEL its network attachments.
down() {
    "$bin" down --root-dir "$1" >>"$1/down.log" 2>&1
}
cleanup() {
    trap - EXIT INT TERM
    local r m
    for r in "$work"/none "$work"/cni; do
        [ -d "$r" ] && { down "$r" || echo "down $r failed: see $r/down.log"; }
    done
    if [ -f "$work/net-before.json" ]; then
        echo "cleanup:"
        python3 "$here/bench/netclean.py" clean "$work/net-before.json" --subnet "$cidr" \
            --bridge "$bridge" --netns "$netns" || echo "  network cleanup failed"
    fi
    for m in $(findmnt -rn -o TARGET | grep "^$work/" | sort -r); do
        umount -l "$m" && echo "  unmounted $m (left mounted)"
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
mkdir "$work/none"
python3 "$here/bench/podstart.py" "$bin" "$work/none" "$bdir/images" --network none \
    --json "$work/none.json"

# Why the networked run cannot be made here (empty: it can).
net_blocker() {
    local p
    [ "$(id -u)" = 0 ] || { echo "not root"; return; }
    for p in bridge host-local portmap; do
        [ -x "$plugins/$p" ] || { echo "no $plugins/$p (Debian containernetworking-plugins)"; return; }
    done
    command -v iptables-save >/dev/null || { echo "no iptables"; return; }
    ! ip -o link show "$bridge" >/dev/null 2>&1 || { echo "a link named $bridge exists: set MK_BENCH_BRIDGE"; return; }
    [ -z "$(ip -4 route show to match "${cidr%/*}" | grep -v '^default')" ] ||
        echo "$cidr is routed on this machine: set MK_BENCH_CIDR"
}
why=$(net_blocker)
if [ -n "$why" ]; then
    echo "networked run skipped: $why"
else
    python3 "$here/bench/netclean.py" snapshot "$work/net-before.json"
    mkdir "$work/cni"
    python3 "$here/bench/podstart.py" "$bin" "$work/cni" "$bdir/images" --network cni \
        --bridge "$bridge" --pod-cidr "$cidr" --json "$work/cni.json"
    down "$work/cni"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("",0)); print(s.getsockname()[1])')
    python3 "$here/bench/cniplugins.py" --conf "$work/cni/etc/cni/net.d/10-mini-kubelet.conflist" \
        --netns "$netns" --bin-dir "$plugins" --n 30 --host-port "$port" \
        --none "$work/none.json" --cni "$work/cni.json"
fi

if command -v podman >/dev/null 2>&1; then
    echo "podman $(podman --version | awk '{print $3}') is installed; side-by-side: see docs/performance.md for the method"
else
    echo "podman: not installed here, no side-by-side ratio"
fi
