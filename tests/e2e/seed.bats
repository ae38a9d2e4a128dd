#!/usr/bin/env bats
# The seed's pod, end to end: manifest -> Running -> status, logs, exec, top, inspect, HTTP.

load helpers

setup_file() {
    mk_root
    agent_start
    cp "$MK_SOURCE_DIR/examples/manifests/mypod.yaml" "$MK_MANIFESTS/mypod.yaml"
    wait_until 30 ctr_running mypod mycontainer
}

teardown() {
    mk_log_on_failure
}

teardown_file() {
    mk_teardown
}

@test "the seed pod reaches Running with a mini-kubelet container id" {
    [ "$(pod_phase mypod)" = Running ]
    run ctr_field mypod mycontainer .containerID
    [[ "$output" =~ ^mini-kubelet://[0-9a-f]{64}$ ]]
    [ "$(ctr_field mypod mycontainer .ready)" = true ]
    [ "$(ctr_field mypod mycontainer .image)" = nginx ]
    [ "$(ctr_field mypod mycontainer .restartCount)" = 0 ]
    # conditions are the kubelet's
    [ "$(pod_json mypod | jq -r '.status.conditions[] | select(.type=="Ready") | .status')" = True ]
}

@test "GET /pods is a v1 PodList holding the pod" {
    run api /pods
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -r .kind)" = PodList ]
    [ "$(echo "$output" | jq -r .apiVersion)" = v1 ]
    [ "$(echo "$output" | jq -r '.items[].metadata.name')" = mypod ]
    [ "$(echo "$output" | jq -r '.items[0].metadata.namespace')" = default ]
}

@test "nginx answers HTTP on port 80 inside the pod's network namespace" {
    pid=$(ctr_pid "$(pod_uid mypod)" mycontainer)
    [ -n "$pid" ]
    wait_until 10 nsenter --net=/proc/$pid/ns/net curl -sf http://127.0.0.1:80/
    run nsenter --net=/proc/$pid/ns/net curl -s http://127.0.0.1:80/
    [[ "$output" == *"nginx"* ]]
}

@test "the container's log holds nginx's access log, with CRI prefixes stripped" {
    pid=$(ctr_pid "$(pod_uid mypod)" mycontainer)
    nsenter --net=/proc/$pid/ns/net curl -s -o /dev/null http://127.0.0.1:80/from-the-test
    wait_until 10 bash -c "curl -s '$MK_URL/containerLogs/default/mypod/mycontainer' | grep -q from-the-test"
    run api /containerLogs/default/mypod/mycontainer
    [[ "$output" == *'"GET /from-the-test HTTP/1.1"'* ]]
    [[ "$output" != *" stdout F "* ]]
    # the file on disk is CRI format
    uid=$(pod_uid mypod)
    grep -qE '^[0-9T:.-]+Z stdout F .*from-the-test' "$MK_ROOT"/var/log/pods/default_mypod_"$uid"/mycontainer/0.log
    run api '/containerLogs/default/mypod/mycontainer?timestamps=true&tailLines=1'
    [ "$(echo "$output" | wc -l)" -eq 1 ]
    [[ "$output" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z\  ]]
}

@test "exec with the token runs nginx -v and reports the exit code" {
    token=$(cat "$MK_ROOT/etc/mini-kubelet/token")
    run curl -sS -D "$BATS_TEST_TMPDIR/h" -XPOST -H "Authorization: Bearer $token" \
        "$MK_URL/run/default/mypod/mycontainer?cmd=nginx+-v"
    [ "$status" -eq 0 ]
    [[ "$output" == *"nginx version: nginx/"* ]]
    grep -qi '^X-Exit-Code: 0' "$BATS_TEST_TMPDIR/h"
    # a failing command: its stderr comes back and the code is non-zero
    run curl -sS -D "$BATS_TEST_TMPDIR/h2" -XPOST -H "Authorization: Bearer $token" \
        "$MK_URL/run/default/mypod/mycontainer?cmd=nginx+-t+-c+/nonexistent.conf"
    [[ "$output" == *"/nonexistent.conf"* ]]
    grep -qi '^X-Exit-Code: 1' "$BATS_TEST_TMPDIR/h2"
}

@test "exec over TCP without a token is refused with 401" {
    run curl -s -o /dev/null -w '%{http_code}' -XPOST "$MK_URL/run/default/mypod/mycontainer?cmd=nginx+-v"
    [ "$output" = 401 ]
    run curl -s -o /dev/null -w '%{http_code}' -XPOST -H 'Authorization: Bearer wrong' \
        "$MK_URL/run/default/mypod/mycontainer?cmd=nginx+-v"
    [ "$output" = 401 ]
}

@test "exec over the unix socket needs no token" {
    run api_sock '/run/default/mypod/mycontainer?cmd=nginx+-v' -XPOST
    [[ "$output" == *"nginx version"* ]]
    [ "$(stat -c %a "$MK_SOCK")" = 600 ]
}

@test "top lists the nginx master and worker with host pids" {
    run api /top/default/mypod/mycontainer
    [[ "${lines[0]}" =~ PID.*USER.*TIME.*COMMAND ]]
    [[ "$output" == *"nginx: master process"* ]]
    [[ "$output" == *"nginx: worker process"* ]]
    uid=$(pod_uid mypod)
    for pid in $(ctr_pids "$uid" mycontainer); do
        [[ "$output" == *"$pid"* ]]
    done
    run api /top/default/mypod/mycontainer -H 'Accept: application/json'
    [ "$(echo "$output" | jq '.processes | length')" -ge 2 ]
}

@test "inspect reports the sandbox and container pids and namespaces" {
    uid=$(pod_uid mypod)
    pid=$(ctr_pid "$uid" mycontainer)
    run api /inspect/default/mypod
    [ "$status" -eq 0 ]
    echo "$output" | jq -e . >/dev/null
    [[ "$output" == *"$pid"* ]]
    [[ "$output" == *"$(ns_ino "$pid" net)"* ]]
}

@test "the pod's hostname is the pod name" {
    pid=$(ctr_pid "$(pod_uid mypod)" mycontainer)
    [ "$(nsenter --uts=/proc/$pid/ns/uts hostname)" = mypod ]
    [ "$(cat /proc/$pid/root/etc/hostname)" = mypod ]
    grep -q mypod /proc/$pid/root/etc/hosts
}

@test "the container runs with the default capability set and masked /proc paths" {
    pid=$(ctr_pid "$(pod_uid mypod)" mycontainer)
    # containerd's default set: 0x00000000a80425fb
    grep -q '^CapBnd:.*00000000a80425fb' /proc/$pid/status
    grep -qE '^NoNewPrivs:\s+1' /proc/$pid/status
    # the sensitive /proc files this kernel has are masked by /dev/null (char 1:3)
    masked=0
    for f in kcore keys timer_list sched_debug; do
        [ -e /proc/$f ] || continue
        [ "$(stat -L -c '%t:%T' /proc/$pid/root/proc/$f)" = 1:3 ]
        masked=$((masked + 1))
    done
    [ "$masked" -ge 1 ]
    # /proc/sys is read-only
    awk '$5=="/proc/sys" && $6 ~ /^ro/ {found=1} END {exit !found}' /proc/$pid/mountinfo
}
