#!/usr/bin/env bats
# The HTTP API's contract: status codes, Status bodies, auth, limits, misbehaving clients.

load helpers

setup_file() {
    mk_root
    agent_start
    write_manifest box.yaml <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: box
  namespace: lab
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: sh
    image: busybox
    command: ["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; done; echo oops >&2; exec sleep 3600"]
YAML
    wait_until 30 ctr_running_ns
}

ctr_running_ns() {
    [ "$(curl -s "$MK_URL/api/v1/namespaces/lab/pods/box" | jq -r '.status.containerStatuses[0].state.running != null')" = true ]
}

teardown() {
    mk_log_on_failure
}

teardown_file() {
    mk_teardown
}

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

@test "healthz says ok" {
    [ "$(api /healthz)" = ok ]
}

@test "namespaced list and get; unknown pod is a 404 Status" {
    [ "$(api /api/v1/namespaces/lab/pods | jq -r '.items[0].metadata.name')" = box ]
    [ "$(api /api/v1/pods | jq -r '.items | length')" -ge 1 ]
    [ "$(api /api/v1/namespaces/default/pods | jq -r '.items | length')" = 0 ]
    run curl -s -w '\n%{http_code}' "$MK_URL/api/v1/namespaces/lab/pods/nope"
    [ "${lines[-1]}" = 404 ]
    [ "$(echo "${lines[0]}" | jq -r .kind)" = Status ]
    [ "$(echo "${lines[0]}" | jq -r .reason)" = NotFound ]
    [ "$(echo "${lines[0]}" | jq -r .code)" = 404 ]
}

@test "logs: all, tailLines, limitBytes, stderr merged" {
    wait_until 10 bash -c "curl -s $MK_URL/containerLogs/lab/box/sh | grep -q oops"
    run api /containerLogs/lab/box/sh
    [ "${lines[0]}" = "line 1" ]
    [[ "$output" == *oops* ]]
    [ "$(api '/containerLogs/lab/box/sh?tailLines=2' | head -n1)" = "line 5" ]
    [ "$(api '/containerLogs/lab/box/sh?limitBytes=4')" = line ]
}

@test "logs: follow streams and stays open while the container runs" {
    run timeout 2 curl -sN "$MK_URL/containerLogs/lab/box/sh?follow=true"
    [ "$status" -eq 124 ] # still streaming when timeout cut it
    [[ "$output" == *"line 5"* ]]
}

@test "logs: bad parameters are 400 or 422, unknown container 404" {
    [ "$(code "$MK_URL/containerLogs/lab/box/sh?tailLines=abc")" = 400 ]
    c=$(code "$MK_URL/containerLogs/lab/box/sh?tailLines=-1")
    [ "$c" = 422 ] || [ "$c" = 400 ]
    [ "$(code "$MK_URL/containerLogs/lab/box/nope")" = 404 ]
    [ "$(code "$MK_URL/containerLogs/lab/nope/sh")" = 404 ]
    [ "$(code "$MK_URL/containerLogs/lab/box/sh?previous=true")" = 400 ]
}

@test "exec over the socket: output and exit code (cmd is split on spaces, as the kubelet does)" {
    run curl -s -D "$BATS_TEST_TMPDIR/h" --unix-socket "$MK_SOCK" -XPOST \
        'http://localhost/run/lab/box/sh?cmd=echo+hi+there'
    [ "$output" = "hi there" ]
    grep -qi '^X-Exit-Code: 0' "$BATS_TEST_TMPDIR/h"
    run curl -s -D "$BATS_TEST_TMPDIR/h" --unix-socket "$MK_SOCK" -XPOST \
        'http://localhost/run/lab/box/sh?cmd=ls+/no-such-dir'
    [[ "$output" == *"no-such-dir"* ]]
    grep -qi '^X-Exit-Code: [1-9]' "$BATS_TEST_TMPDIR/h"
    # two spaces make an empty word, as with the kubelet: printf gets "[%s]" "" "x"
    run curl -s --unix-socket "$MK_SOCK" -XPOST \
        'http://localhost/run/lab/box/sh?cmd=printf+%5B%25s%5D++x'
    [ "$output" = "[][x]" ]
    # a command that does not exist: 127, like a shell
    run curl -s -D "$BATS_TEST_TMPDIR/h" --unix-socket "$MK_SOCK" -XPOST \
        'http://localhost/run/lab/box/sh?cmd=no-such-command'
    grep -qi '^X-Exit-Code: 127' "$BATS_TEST_TMPDIR/h"
}

@test "exec into an unknown container is 404, wrong method 405 with Allow" {
    token=$(cat "$MK_ROOT/etc/mini-kubelet/token")
    [ "$(code -XPOST -H "Authorization: Bearer $token" "$MK_URL/run/lab/box/nope?cmd=true")" = 404 ]
    run curl -s -D - -o /dev/null "$MK_URL/run/lab/box/sh?cmd=true"
    [[ "$output" == *" 405"* ]]
    [[ "$output" == *"Allow: POST"* ]]
    [ "$(code -XDELETE "$MK_URL/healthz")" = 405 ]
}

@test "unknown path is 404; missing cmd is 400" {
    [ "$(code "$MK_URL/nothing/here")" = 404 ]
    token=$(cat "$MK_ROOT/etc/mini-kubelet/token")
    [ "$(code -XPOST -H "Authorization: Bearer $token" "$MK_URL/run/lab/box/sh")" = 400 ]
}

@test "bodies over 1 MiB are 413; oversized headers are 431" {
    head -c 1100000 /dev/zero >"$BATS_TEST_TMPDIR/big"
    token=$(cat "$MK_ROOT/etc/mini-kubelet/token")
    [ "$(code -XPOST -H "Authorization: Bearer $token" --data-binary @"$BATS_TEST_TMPDIR/big" "$MK_URL/run/lab/box/sh?cmd=true")" = 413 ]
    big=$(head -c 70000 /dev/zero | tr '\0' a)
    [ "$(code -H "X-Big: $big" "$MK_URL/healthz")" = 431 ]
}

@test "garbage and slow clients neither crash nor block the agent" {
    (exec 3<>/dev/tcp/127.0.0.1/$MK_PORT; printf 'NOT HTTP AT ALL\r\n\r\n' >&3; timeout 5 cat <&3 >/dev/null) || true
    # a client that sends half a request and stalls
    (exec 3<>/dev/tcp/127.0.0.1/$MK_PORT; printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n' >&3; sleep 3) &
    slow=$!
    [ "$(api /healthz)" = ok ]
    kill $slow 2>/dev/null || true
    wait $slow 2>/dev/null || true
    kill -0 "$MK_AGENT_PID"
}

@test "manifests lists every file with its state" {
    run api /manifests
    echo "$output" | jq -e '.items[] | select(.file|endswith("box.yaml")) | .state == "ok"'
}

@test "a non-loopback listen address without a TLS certificate is refused at start" {
    run timeout 10 "$MK" --root-dir "$MK_ROOT/other" --manifest-dir "$MK_MANIFESTS" --listen 0.0.0.0:0 \
        --socket "$MK_ROOT/other.sock" --network=none
    [ "$status" -ne 0 ]
    [[ "$output" == *"--tls-cert-file"* ]]
}
