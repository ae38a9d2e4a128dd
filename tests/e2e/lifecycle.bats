#!/usr/bin/env bats
# Manifest edits, deletes and breakage; what is left behind when a pod goes.

load helpers

setup() {
    mk_root
    agent_start
}

teardown() {
    mk_log_on_failure
    mk_teardown
}

sleeper() { # sleeper NAME [GRACE] [EXTRA-LABEL]
    cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
  labels:
    rev: "${3:-one}"
spec:
  terminationGracePeriodSeconds: ${2:-30}
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]
YAML
}

@test "an edited manifest recreates the pod" {
    sleeper web | write_manifest web.yaml
    wait_until 30 ctr_running web main
    uid1=$(pod_uid web); pid1=$(ctr_pid "$uid1" main)
    sleeper web 30 two | write_manifest web.yaml
    wait_until 30 bash -c "[ \"\$(curl -s $MK_URL/api/v1/namespaces/default/pods/web | jq -r .metadata.labels.rev)\" = two ]"
    wait_until 30 ctr_running web main
    uid2=$(pod_uid web); pid2=$(ctr_pid "$uid2" main)
    [ "$uid1" != "$uid2" ]
    [ "$pid1" != "$pid2" ]
    ! kill -0 "$pid1" 2>/dev/null
}

@test "rewriting identical content restarts nothing" {
    sleeper same | write_manifest same.yaml
    wait_until 30 ctr_running same main
    uid=$(pod_uid same); pid=$(ctr_pid "$uid" main)
    sleeper same | write_manifest same.yaml
    touch "$MK_MANIFESTS/same.yaml"
    sleep 1 # give a wrong recreate the chance to happen (asserting absence)
    [ "$(pod_uid same)" = "$uid" ]
    [ "$(ctr_pid "$uid" main)" = "$pid" ]
}

@test "a deleted manifest stops the pod within its grace period and leaves nothing behind" {
    sleeper gone 5 | write_manifest gone.yaml
    wait_until 30 ctr_running gone main
    uid=$(pod_uid gone); pid=$(ctr_pid "$uid" main)
    shim=$(cat "$MK_ROOT/run/mini-kubelet/pods/$uid/shim.pid")
    rm "$MK_MANIFESTS/gone.yaml"
    wait_until 10 pod_absent gone
    ! kill -0 "$pid" 2>/dev/null
    wait_until 5 bash -c "! kill -0 $shim"
    # no process, no cgroup, no mount, no state
    [ -z "$(ctr_pids "$uid" main)" ]
    ! grep -rqs "pod-$uid" /proc/[0-9]*/cgroup
    ! find /sys/fs/cgroup -maxdepth 6 -type d -name "pod-$uid" 2>/dev/null | grep -q .
    ! grep -q "$uid" /proc/mounts
    ! grep -q "$MK_ROOT" /proc/mounts
    [ ! -e "$MK_ROOT/run/mini-kubelet/pods/$uid" ]
    [ ! -e "$MK_ROOT/var/lib/mini-kubelet/pods/$uid" ]
}

@test "a container that ignores SIGTERM is killed at the end of the grace period" {
    cat <<'YAML' | write_manifest stubborn.yaml
apiVersion: v1
kind: Pod
metadata:
  name: stubborn
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"]
YAML
    wait_until 30 ctr_running stubborn main
    uid=$(pod_uid stubborn); pid=$(ctr_pid "$uid" main)
    start=$(date +%s)
    rm "$MK_MANIFESTS/stubborn.yaml"
    wait_until 15 pod_absent stubborn
    ! kill -0 "$pid" 2>/dev/null
    [ $(( $(date +%s) - start )) -ge 1 ] # it was not killed at once
}

@test "a broken manifest keeps the old pod running and reports the error" {
    sleeper keep | write_manifest keep.yaml
    wait_until 30 ctr_running keep main
    uid=$(pod_uid keep); pid=$(ctr_pid "$uid" main)
    printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: keep\nspec:\n  containers:\n  - name: main\n    imagee: busybox\n' |
        write_manifest keep.yaml
    wait_until 10 bash -c "curl -s $MK_URL/manifests | grep -q 'keep.yaml:8:5'"
    run api /manifests
    echo "$output" | jq -e '.items[] | select(.file|endswith("keep.yaml")) | .state == "error"'
    [[ "$output" == *'imagee'* ]]
    grep -q 'keep.yaml:8:5' "$MK_ROOT/agent.log"
    [ "$(pod_uid keep)" = "$uid" ]
    [ "$(ctr_pid "$uid" main)" = "$pid" ]
}

@test "two files defining one pod: the first by name wins, the other is reported" {
    sleeper dup 30 first | write_manifest a-dup.yaml
    sleeper dup 30 second | write_manifest b-dup.yaml
    wait_until 30 ctr_running dup main
    wait_until 10 bash -c "curl -s $MK_URL/manifests | jq -e '.items[] | select(.file|endswith(\"b-dup.yaml\")) | .state == \"duplicate\"'"
    [ "$(pod_json dup | jq -r .metadata.labels.rev)" = first ]
    api /manifests | grep -q 'a-dup.yaml'
}

@test "editor and backup files are never read" {
    sleeper real | write_manifest real.yaml
    for n in .hidden.yaml real.yaml~ real.yaml.swp real.yaml.bak real.yaml.tmp notes.txt; do
        sleeper "ghost-${RANDOM}" >"$MK_MANIFESTS/$n"
    done
    wait_until 30 ctr_running real main
    run api /pods
    [ "$(echo "$output" | jq '.items | length')" = 1 ]
}
