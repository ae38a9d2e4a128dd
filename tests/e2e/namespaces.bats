#!/usr/bin/env bats
# Namespaces as the kernel shows them (/proc/<pid>/ns/*), independent of what the agent says.

load helpers

setup_file() {
    mk_root
    agent_start
    write_manifest twins.yaml <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: twins
spec:
  terminationGracePeriodSeconds: 2
  hostname: twinhost
  containers:
  - name: a
    image: busybox
    command: ["sleep", "3600"]
  - name: b
    image: busybox
    command: ["sleep", "3600"]
YAML
    write_manifest shared.yaml <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: shared
spec:
  terminationGracePeriodSeconds: 2
  shareProcessNamespace: true
  containers:
  - name: a
    image: busybox
    command: ["sleep", "3600"]
  - name: b
    image: busybox
    command: ["sleep", "3600"]
YAML
    wait_until 30 ctr_running twins a
    wait_until 30 ctr_running twins b
    wait_until 30 ctr_running shared a
    wait_until 30 ctr_running shared b
}

teardown() {
    mk_log_on_failure
}

teardown_file() {
    mk_teardown
}

@test "containers of a pod share net, ipc and uts, and differ in mnt and pid" {
    uid=$(pod_uid twins)
    pa=$(ctr_pid "$uid" a); pb=$(ctr_pid "$uid" b)
    [ -n "$pa" ] && [ -n "$pb" ] && [ "$pa" != "$pb" ]
    for ns in net ipc uts; do
        [ "$(ns_ino "$pa" $ns)" = "$(ns_ino "$pb" $ns)" ]
    done
    for ns in mnt pid; do
        [ "$(ns_ino "$pa" $ns)" != "$(ns_ino "$pb" $ns)" ]
    done
}

@test "every pod namespace differs from the host's" {
    uid=$(pod_uid twins)
    pa=$(ctr_pid "$uid" a)
    for ns in net ipc uts mnt pid; do
        [ "$(ns_ino "$pa" $ns)" != "$(ns_ino 1 $ns)" ]
        [ "$(ns_ino "$pa" $ns)" != "$(ns_ino $$ $ns)" ]
    done
}

@test "shareProcessNamespace puts both containers in one pid namespace" {
    uid=$(pod_uid shared)
    pa=$(ctr_pid "$uid" a); pb=$(ctr_pid "$uid" b)
    [ "$(ns_ino "$pa" pid)" = "$(ns_ino "$pb" pid)" ]
    [ "$(ns_ino "$pa" pid)" != "$(ns_ino 1 pid)" ]
    [ "$(ns_ino "$pa" mnt)" != "$(ns_ino "$pb" mnt)" ]
    # and each sees the other's sleep
    run api_sock '/run/default/shared/a?cmd=ps' -XPOST
    [ "$(echo "$output" | grep -c 'sleep 3600')" -ge 2 ]
}

@test "shareProcessNamespace: the pod's pid 1 is /pause, with no host path in its command line" {
    [ "$(api_sock '/run/default/shared/a?cmd=cat+/proc/1/cmdline' -XPOST | od -An -c | tr -d ' \n')" = '/pause\0' ]
    run api_sock '/run/default/shared/b?cmd=cat+/proc/1/comm' -XPOST
    [ "$output" = pause ]
    # ps: PID USER COMMAND, and pid 1's command is the one word /pause
    run api_sock '/run/default/shared/a?cmd=ps' -XPOST
    [ "$(echo "$output" | awk '$1 == 1 {print NF, $3}')" = "3 /pause" ]
    # no process of the pod shows a host path: the exec's own helper (the parent of this ps)
    # reads just "mini-kubelet-shim"
    [[ "$output" != *"$MK_ROOT"* ]]
    [[ "$output" != *"--run-dir"* ]]
    echo "$output" | grep -qE '^ *[0-9]+ +root +mini-kubelet-shim *$'
}

@test "without shareProcessNamespace a container is pid 1 of its own namespace" {
    uid=$(pod_uid twins)
    pa=$(ctr_pid "$uid" a)
    [ "$(awk '/^NSpid:/ {print $NF}' /proc/$pa/status)" = 1 ]
}

@test "hostname is spec.hostname, shared by both containers" {
    uid=$(pod_uid twins)
    pa=$(ctr_pid "$uid" a)
    [ "$(nsenter --uts=/proc/$pa/ns/uts hostname)" = twinhost ]
    run api_sock '/run/default/twins/b?cmd=hostname' -XPOST
    [ "$output" = twinhost ]
}

@test "inspect agrees with the kernel about shared namespaces" {
    uid=$(pod_uid twins)
    pa=$(ctr_pid "$uid" a)
    run api /inspect/default/twins
    [[ "$output" == *"$(ns_ino "$pa" net)"* ]]
    [[ "$output" == *"$(ns_ino "$pa" mnt)"* ]]
}
