# Shared helpers for the end-to-end tests. Each test file gets its own agent on a private
# root dir and a free port; everything it starts is torn down in teardown, even on failure.

MK_BUILD_DIR=${MK_BUILD_DIR:-$(cd "$BATS_TEST_DIRNAME/../../build" && pwd)}
MK_SOURCE_DIR=${MK_SOURCE_DIR:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
MK_IMAGES=${MK_IMAGES:-$MK_BUILD_DIR/images}
MK=$MK_BUILD_DIR/mini-kubelet

# wait_until SECONDS CMD...: poll CMD every 50 ms until it succeeds or the deadline passes.
wait_until() {
    local deadline=$(( $(date +%s%N) + $1 * 1000000000 )); shift
    while ! "$@" >/dev/null 2>&1; do
        if [ "$(date +%s%N)" -gt "$deadline" ]; then
            echo "timed out waiting for: $*" >&2
            return 1
        fi
        sleep 0.05
    done
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Make a private root with the example images ready to import.
mk_root() {
    MK_ROOT=$(mktemp -d /tmp/mkl-e2e.XXXXXX)
    MK_MANIFESTS=$MK_ROOT/manifests
    mkdir -p "$MK_MANIFESTS" "$MK_ROOT/var/lib/mini-kubelet/images/import"
    local f
    for f in "$MK_IMAGES"/*.tar; do
        [ -e "$f" ] && cp "$f" "$MK_ROOT/var/lib/mini-kubelet/images/import/"
    done
    MK_PORT=$(free_port)
    MK_URL=http://127.0.0.1:$MK_PORT
    MK_SOCK=$MK_ROOT/run/mini-kubelet/api.sock
    export MK_ROOT MK_MANIFESTS MK_PORT MK_URL MK_SOCK
}

# Start the agent in the background; extra args are passed through.
agent_start() {
    "$MK" --root-dir "$MK_ROOT" --manifest-dir "$MK_MANIFESTS" --listen "127.0.0.1:$MK_PORT" \
        --log-level debug --backoff-scale "${MK_BACKOFF_SCALE:-0.1}" ${MK_NET_FLAGS:---network=none} "$@" \
        >>"$MK_ROOT/agent.log" 2>&1 &
    MK_AGENT_PID=$!
    export MK_AGENT_PID
    wait_until 20 curl -sf "$MK_URL/healthz"
}

agent_kill9() {
    kill -9 "$MK_AGENT_PID" 2>/dev/null || true
    wait "$MK_AGENT_PID" 2>/dev/null || true
}

agent_stop() {
    if [ -n "${MK_AGENT_PID:-}" ] && kill -0 "$MK_AGENT_PID" 2>/dev/null; then
        kill -TERM "$MK_AGENT_PID"
        wait_until 20 bash -c "! kill -0 $MK_AGENT_PID" || kill -9 "$MK_AGENT_PID"
        wait "$MK_AGENT_PID" 2>/dev/null || true
    fi
}

# Print the tail of the agent's log when the current test failed (call from teardown()).
mk_log_on_failure() {
    if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -n "${MK_ROOT:-}" ]; then
        echo "---- last lines of $MK_ROOT/agent.log ----" >&3
        grep -v ' DEBUG api: ' "$MK_ROOT/agent.log" | tail -n 40 >&3 || true
    fi
}

# Full teardown: stop the agent and every pod, then remove the root.
mk_teardown() {
    [ -n "${MK_ROOT:-}" ] || return 0
    agent_stop
    "$MK" down --root-dir "$MK_ROOT" >>"$MK_ROOT/agent.log" 2>&1 || true
    # last resort, so that a broken `down` cannot leak shims onto the machine
    local p
    for p in $(pgrep -f "mini-kubelet-shim.*$MK_ROOT" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    local subtree leaked reports
    reports=$(sanitizer_reports "$MK_ROOT/agent.log")
    subtree=$(mk_cgroup_subtree)
    leaked=$(find /sys/fs/cgroup -maxdepth 8 -type d -name "$subtree" 2>/dev/null)
    for p in $leaked; do find "$p" -depth -type d -exec rmdir {} + 2>/dev/null || true; done
    # last resort for the netns directory mount (`down` removes it when no pin is left)
    umount -l "$MK_ROOT/run/mini-kubelet/netns" 2>/dev/null || true
    rm -rf "$MK_ROOT"
    MK_ROOT=
    if [ -n "$leaked" ]; then
        echo "cgroups left behind after down: $leaked" >&2
        return 1
    fi
    if [ -n "$reports" ]; then
        echo "sanitizer reports in the agent's log: $reports" >&2
        return 1
    fi
}

# The cgroup subtree an agent with this root dir uses: mini-kubelet-<first 8 hex of sha256(root)>.
mk_cgroup_subtree() {
    echo "mini-kubelet-$(printf '%s' "$MK_ROOT" | sha256sum | cut -c1-8)"
}

api() { curl -sS "$MK_URL$1" "${@:2}"; }
api_sock() { curl -sS --unix-socket "$MK_SOCK" "http://localhost$1" "${@:2}"; }

pod_json() { api "/api/v1/namespaces/${2:-default}/pods/$1"; }
pod_phase() { pod_json "$1" "${2:-default}" | jq -r '.status.phase'; }
pod_uid() { pod_json "$1" "${2:-default}" | jq -r '.metadata.uid'; }
pod_is_running() { [ "$(pod_phase "$1" "${2:-default}")" = Running ]; }
pod_absent() { [ "$(api "/api/v1/namespaces/${2:-default}/pods/$1" -o /dev/null -w '%{http_code}')" = 404 ]; }
ctr_field() { # ctr_field POD CTR JQPATH
    pod_json "$1" | jq -r --arg c "$2" ".status.containerStatuses[] | select(.name==\$c) | $3"
}
ctr_running() { [ "$(ctr_field "$1" "$2" '.state.running != null')" = true ]; }

# Host pids of the processes in a container, found from the kernel's view alone: every process
# whose cgroup path ends in pod-<uid>/<ctr>.
ctr_pids() { # ctr_pids UID CTR
    local f pid
    for f in /proc/[0-9]*/cgroup; do
        pid=${f#/proc/}; pid=${pid%/cgroup}
        grep -qE "/pod-$1/$2\$" "$f" 2>/dev/null && echo "$pid"
    done | sort -n
}
# The main (lowest) pid of a container.
ctr_pid() { ctr_pids "$1" "$2" | head -n1; }
ns_ino() { readlink "/proc/$1/ns/$2" | tr -dc 0-9; }

write_manifest() { # write_manifest NAME <<< yaml
    cat >"$MK_MANIFESTS/.$1.tmp"
    mv "$MK_MANIFESTS/.$1.tmp" "$MK_MANIFESTS/$1"
}

# Print every AddressSanitizer/UBSan/LeakSanitizer report line found in the given files (none
# when the files are clean); missing files are skipped.
sanitizer_reports() {
    local f
    for f in "$@"; do
        [ -f "$f" ] || continue
        grep -HE 'ERROR: (AddressSanitizer|LeakSanitizer)|SUMMARY: (Address|Undefined|Leak)Sanitizer|runtime error: ' "$f" || true
    done
}

# Print what is left on the machine of the pods of this root (nothing when all is clean): shim
# processes, processes in pod cgroups, pod cgroups under the agent's subtree, mounts under the
# root. The agent itself and its (empty) subtree may remain.
root_leftovers() {
    local subtree p f
    subtree=$(mk_cgroup_subtree)
    for p in $(pgrep -f "mini-kubelet-shim.*$MK_ROOT" 2>/dev/null); do echo "shim process $p"; done
    for f in /proc/[0-9]*/cgroup; do
        grep -qE "/$subtree/pod-" "$f" 2>/dev/null && echo "process ${f//[!0-9]/} in a pod cgroup"
    done
    find /sys/fs/cgroup -maxdepth 9 -type d -path "*/$subtree/*" 2>/dev/null | sed 's/^/cgroup /'
    # the agent's netns directory (a shared mount point while an agent runs) is not a leftover;
    # the pods' namespace pins inside it are
    local nsdir="$MK_ROOT/run/mini-kubelet/netns"
    grep -F "$MK_ROOT" /proc/mounts | grep -vF " $nsdir " | sed 's/^/mount /'
    # mounts held in other mount namespaces by any process left over
    for f in /proc/[0-9]*/mountinfo; do
        grep -F "$MK_ROOT" "$f" 2>/dev/null | grep -qvF " $nsdir " &&
            echo "mount of $MK_ROOT seen by process ${f//[!0-9]/}"
    done
    return 0
}
