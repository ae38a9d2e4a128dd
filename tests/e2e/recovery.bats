#!/usr/bin/env bats
# Pods outlive the agent; a restarted agent re-attaches without touching them.

load helpers

setup() {
    mk_root
    agent_start
}

teardown() {
    mk_log_on_failure
    mk_teardown
}

pod() {
    cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: busybox
    command: ["sleep", "3600"]
YAML
}

@test "kill -9 of the agent leaves the pod running; a restart keeps the same pids" {
    pod keeper | write_manifest keeper.yaml
    wait_until 30 ctr_running keeper main
    uid=$(pod_uid keeper); pid=$(ctr_pid "$uid" main)
    shim=$(cat "$MK_ROOT/run/mini-kubelet/pods/$uid/shim.pid")
    agent_kill9
    kill -0 "$pid"
    kill -0 "$shim"
    agent_start
    wait_until 30 ctr_running keeper main
    [ "$(pod_uid keeper)" = "$uid" ]
    [ "$(ctr_pid "$uid" main)" = "$pid" ]
    [ "$(cat "$MK_ROOT/run/mini-kubelet/pods/$uid/shim.pid")" = "$shim" ]
    [ "$(ctr_field keeper main .restartCount)" = 0 ]
    # and it still works: exec and a later delete
    run api_sock '/run/default/keeper/main?cmd=echo+alive' -XPOST
    [ "$output" = alive ]
}

@test "SIGTERM stops the agent and leaves pods running" {
    pod calm | write_manifest calm.yaml
    wait_until 30 ctr_running calm main
    uid=$(pod_uid calm); pid=$(ctr_pid "$uid" main)
    agent_stop
    kill -0 "$pid"
    agent_start
    wait_until 30 ctr_running calm main
    [ "$(ctr_pid "$uid" main)" = "$pid" ]
}

@test "a pod whose manifest was removed while the agent was down is stopped at start" {
    pod orphan | write_manifest orphan.yaml
    wait_until 30 ctr_running orphan main
    uid=$(pod_uid orphan); pid=$(ctr_pid "$uid" main)
    agent_kill9
    rm "$MK_MANIFESTS/orphan.yaml"
    agent_start
    wait_until 45 bash -c "! kill -0 $pid 2>/dev/null"
    wait_until 10 pod_absent orphan
    [ ! -e "$MK_ROOT/run/mini-kubelet/pods/$uid" ]
}

@test "state left by a dead shim is cleaned at start" {
    pod lost | write_manifest lost.yaml
    wait_until 30 ctr_running lost main
    uid=$(pod_uid lost)
    shim=$(cat "$MK_ROOT/run/mini-kubelet/pods/$uid/shim.pid")
    agent_kill9
    rm "$MK_MANIFESTS/lost.yaml"
    kill -9 "$shim"
    agent_start
    wait_until 30 bash -c "[ ! -e $MK_ROOT/run/mini-kubelet/pods/$uid ]"
    wait_until 10 bash -c "! grep -qs 'pod-$uid/' /proc/[0-9]*/cgroup"
    ! find /sys/fs/cgroup -maxdepth 6 -type d -name "pod-$uid" 2>/dev/null | grep -q .
}

@test "mini-kubelet down stops every pod" {
    pod one | write_manifest one.yaml
    pod two | write_manifest two.yaml
    wait_until 30 ctr_running one main
    wait_until 30 ctr_running two main
    u1=$(pod_uid one); u2=$(pod_uid two)
    run "$MK" down --root-dir "$MK_ROOT"
    [ "$status" -eq 0 ]
    [ -z "$(ctr_pids "$u1" main)" ]
    [ -z "$(ctr_pids "$u2" main)" ]
    ! pgrep -f "mini-kubelet-shim.*$MK_ROOT"
}
