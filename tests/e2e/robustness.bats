#!/usr/bin/env bats
# Abuse a user can inflict through the manifest directory and the API: the agent must survive
# it and keep its pods right.

load helpers

setup() {
    mk_root
    agent_start
}

teardown() {
    mk_log_on_failure
    mk_teardown
}

agent_alive() { kill -0 "$MK_AGENT_PID"; }

pod_yaml() { # pod_yaml NAME [GRACE] [COMMAND-SCRIPT]
    cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
spec:
  terminationGracePeriodSeconds: ${2:-30}
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "${3:-echo hello; trap 'exit 0' TERM; while true; do sleep 0.1; done}"]
YAML
}

@test "sinceSeconds and sinceTime far in the past return the whole log" {
    pod_yaml talk | write_manifest talk.yaml
    wait_until 30 ctr_running talk main
    wait_until 10 bash -c "curl -s '$MK_URL/containerLogs/default/talk/main' | grep -qx hello"
    run api "/containerLogs/default/talk/main?sinceSeconds=9223372036854775807"
    [ "$output" = hello ]
    run api "/containerLogs/default/talk/main?sinceTime=0001-01-01T00:00:00Z"
    [ "$output" = hello ]
    agent_alive
}

@test "a grace period beyond what nanoseconds hold still stops the pod" {
    pod_yaml patient 9223372036854775807 | write_manifest patient.yaml
    wait_until 30 ctr_running patient main
    rm "$MK_MANIFESTS/patient.yaml"
    # the container exits on SIGTERM, so the pod goes at once despite the endless grace period
    wait_until 30 pod_absent patient
    agent_alive
}

@test "a manifest dated after 2262 is read, and the agent keeps running" {
    pod_yaml later | write_manifest later.yaml
    touch -d '2400-01-01' "$MK_MANIFESTS/later.yaml"
    wait_until 30 ctr_running later main
    agent_alive
    run api /manifests
    [ "$(echo "$output" | jq -r '.items[] | select(.file | endswith("later.yaml")) | .state')" = ok ]
}
