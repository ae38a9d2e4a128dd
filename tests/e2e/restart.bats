#!/usr/bin/env bats
# restartPolicy and crash-loop backoff (scaled down with --backoff-scale for the test).

load helpers

setup() {
    mk_root
    MK_BACKOFF_SCALE=0.05 agent_start # 10 s -> 0.5 s, 300 s -> 15 s
}

teardown() {
    mk_log_on_failure
    mk_teardown
}

crasher() { # crasher NAME POLICY EXIT-CODE
    cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
spec:
  restartPolicy: $2
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "echo run; exit $3"]
YAML
}

restarts() { ctr_field "$1" main .restartCount; }

@test "Always restarts a failing container with backoff and reports CrashLoopBackOff" {
    crasher loop Always 1 | write_manifest loop.yaml
    wait_until 30 bash -c "[ \"\$(curl -s $MK_URL/api/v1/namespaces/default/pods/loop | jq -r '.status.containerStatuses[0].restartCount')\" -ge 3 ]"
    run pod_json loop
    [ "$(echo "$output" | jq -r .status.phase)" = Running ]
    [ "$(echo "$output" | jq -r '.status.containerStatuses[0].lastState.terminated.exitCode')" = 1 ]
    [ "$(echo "$output" | jq -r '.status.containerStatuses[0].lastState.terminated.reason')" = Error ]
    wait_until 30 bash -c "curl -s $MK_URL/api/v1/namespaces/default/pods/loop | jq -e '.status.containerStatuses[0].state.waiting.reason == \"CrashLoopBackOff\"'"
    run pod_json loop
    [[ "$(echo "$output" | jq -r '.status.containerStatuses[0].state.waiting.message')" == *"back-off"* ]]
    # previous logs come from the last terminated instance
    run api '/containerLogs/default/loop/main?previous=true'
    [ "$output" = run ]
}

@test "the backoff grows between restarts" {
    crasher grow Always 1 | write_manifest grow.yaml
    wait_until 60 bash -c "[ \"\$(curl -s $MK_URL/api/v1/namespaces/default/pods/grow | jq -r '.status.containerStatuses[0].restartCount')\" -ge 4 ]"
    uid=$(pod_uid grow)
    # restart instants from the log files' creation order: gaps must not shrink
    ls "$MK_ROOT/var/log/pods/default_grow_$uid/main/" | grep -q '^3.log$'
}

@test "OnFailure with exit 0 completes: Succeeded, no restart" {
    crasher done OnFailure 0 | write_manifest done.yaml
    wait_until 30 bash -c "[ \"\$(curl -s $MK_URL/api/v1/namespaces/default/pods/done | jq -r .status.phase)\" = Succeeded ]"
    [ "$(restarts done)" = 0 ]
    [ "$(ctr_field done main .state.terminated.reason)" = Completed ]
    [ "$(ctr_field done main .state.terminated.exitCode)" = 0 ]
}

@test "OnFailure restarts a failing container" {
    crasher retry OnFailure 2 | write_manifest retry.yaml
    wait_until 30 bash -c "[ \"\$(curl -s $MK_URL/api/v1/namespaces/default/pods/retry | jq -r '.status.containerStatuses[0].restartCount')\" -ge 1 ]"
}

@test "Never with a failure ends Failed and stays Failed" {
    crasher fail Never 7 | write_manifest fail.yaml
    wait_until 30 bash -c "[ \"\$(curl -s $MK_URL/api/v1/namespaces/default/pods/fail | jq -r .status.phase)\" = Failed ]"
    [ "$(ctr_field fail main .state.terminated.exitCode)" = 7 ]
    [ "$(ctr_field fail main .state.terminated.reason)" = Error ]
    [ "$(restarts fail)" = 0 ]
    sleep 1 # asserting that nothing happens
    [ "$(pod_phase fail)" = Failed ]
    [ "$(restarts fail)" = 0 ]
}

@test "a command that does not exist is a StartError with the reason" {
    cat <<'YAML' | write_manifest nocmd.yaml
apiVersion: v1
kind: Pod
metadata:
  name: nocmd
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    command: ["/no/such/binary"]
YAML
    wait_until 30 bash -c "[ \"\$(curl -s $MK_URL/api/v1/namespaces/default/pods/nocmd | jq -r .status.phase)\" = Failed ]"
    [ "$(ctr_field nocmd main .state.terminated.reason)" = StartError ]
    [ "$(ctr_field nocmd main .state.terminated.exitCode)" = 128 ]
    [[ "$(ctr_field nocmd main .state.terminated.message)" == *"/no/such/binary"* ]]
}

@test "an image that is not present waits with ErrImagePull or ImagePullBackOff" {
    cat <<'YAML' | write_manifest noimg.yaml
apiVersion: v1
kind: Pod
metadata:
  name: noimg
spec:
  containers:
  - name: main
    image: example.invalid/nothing:1.0
YAML
    wait_until 30 bash -c "curl -s $MK_URL/api/v1/namespaces/default/pods/noimg | jq -e '.status.containerStatuses[0].state.waiting.reason | test(\"ErrImagePull|ImagePullBackOff\")'"
    [ "$(pod_phase noimg)" = Pending ]
}
