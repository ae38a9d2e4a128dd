#!/usr/bin/env bats
# HTTPS on the TCP listener: an agent on 0.0.0.0 with --tls-cert-file/--tls-key-file serves
# the seed pod to curl over TLS, refuses plain HTTP on that port, keeps the unix socket plain,
# and refuses to start with a missing certificate or a non-loopback address without one.

load helpers

setup_file() {
    mk_root
    MK_TLS=$MK_ROOT/tls
    mkdir -p "$MK_TLS"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
        -subj /CN=localhost -addext subjectAltName=DNS:localhost \
        -keyout "$MK_TLS/key.pem" -out "$MK_TLS/cert.pem" 2>/dev/null
    MK_URL=https://localhost:$MK_PORT
    # every curl of the helpers trusts our certificate, and only it
    CURL_CA_BUNDLE=$MK_TLS/cert.pem
    export MK_TLS MK_URL CURL_CA_BUNDLE
    "$MK" --root-dir "$MK_ROOT" --manifest-dir "$MK_MANIFESTS" --listen "0.0.0.0:$MK_PORT" \
        --tls-cert-file "$MK_TLS/cert.pem" --tls-key-file "$MK_TLS/key.pem" \
        --log-level debug --backoff-scale 0.1 --network=none >>"$MK_ROOT/agent.log" 2>&1 &
    MK_AGENT_PID=$!
    export MK_AGENT_PID
    wait_until 20 curl -sf --cacert "$MK_TLS/cert.pem" "$MK_URL/healthz"
    cp "$MK_SOURCE_DIR/examples/manifests/mypod.yaml" "$MK_MANIFESTS/mypod.yaml"
    wait_until 30 ctr_running mypod mycontainer
}

teardown() {
    mk_log_on_failure
}

teardown_file() {
    mk_teardown
}

# run the agent in a scratch root and expect it to refuse to start
refused_start() {
    local root
    root=$(mktemp -d /tmp/mkl-e2e-tls.XXXXXX)
    mkdir -p "$root/manifests"
    run timeout 20 "$MK" --root-dir "$root" --manifest-dir "$root/manifests" --log-level info --network=none "$@"
    "$MK" down --root-dir "$root" >/dev/null 2>&1 || true
    rm -rf "$root"
}

@test "curl --cacert over HTTPS: /pods lists the seed pod, and its status is Running" {
    run curl -sS --cacert "$MK_TLS/cert.pem" "https://localhost:$MK_PORT/pods"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -r .kind)" = PodList ]
    [ "$(echo "$output" | jq -r '.items[].metadata.name')" = mypod ]
    run curl -sS --cacert "$MK_TLS/cert.pem" \
        "https://localhost:$MK_PORT/api/v1/namespaces/default/pods/mypod"
    [ "$(echo "$output" | jq -r .status.phase)" = Running ]
    [ "$(echo "$output" | jq -r '.status.containerStatuses[0].ready')" = true ]
}

@test "the listener is on every interface, not only loopback" {
    local ip
    ip=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9.]+$' | grep -v '^127\.' | head -n1)
    [ -n "$ip" ] || skip "this machine has no non-loopback IPv4 address"
    run curl -sS --resolve "localhost:$MK_PORT:$ip" "https://localhost:$MK_PORT/healthz"
    [ "$output" = ok ]
}

@test "TLS 1.2 at least, ALPN http/1.1, no compression, and our certificate" {
    run bash -c "openssl s_client -connect 127.0.0.1:$MK_PORT -servername localhost \
        -alpn http/1.1 -CAfile $MK_TLS/cert.pem -verify_return_error </dev/null 2>&1"
    [[ "$output" == *"ALPN protocol: http/1.1"* ]]
    [[ "$output" == *"New, TLSv1.3"* ]]
    [[ "$output" == *"Compression: NONE"* ]]
    [[ "$output" == *"Verify return code: 0 (ok)"* ]]
    run bash -c "openssl s_client -connect 127.0.0.1:$MK_PORT -tls1_1 -cipher DEFAULT@SECLEVEL=0 \
        </dev/null 2>&1"
    [ "$status" -ne 0 ]
    # a client that does not trust the certificate refuses the server
    run curl -sS --cacert /dev/null "$MK_URL/healthz"
    [ "$status" -ne 0 ]
}

@test "keep-alive: two requests on one TLS connection" {
    run curl -sS -v "$MK_URL/healthz" "$MK_URL/healthz"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Re-using existing connection"* ]]
}

@test "plain HTTP on the TLS port gets no HTTP answer, and the agent goes on" {
    run curl -sS --max-time 10 "http://127.0.0.1:$MK_PORT/healthz"
    [ "$status" -ne 0 ]
    [[ "$output" != *"200"* ]]
    kill -0 "$MK_AGENT_PID"
    [ "$(api /healthz)" = ok ]
}

@test "/run needs the bearer token over TLS too" {
    local url="$MK_URL/run/default/mypod/mycontainer?cmd=nginx+-v"
    [ "$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$url")" = 401 ]
    run curl -sS -XPOST -D - \
        -H "Authorization: Bearer $(cat "$MK_ROOT/etc/mini-kubelet/token")" "$url"
    [[ "$output" == *"x-exit-code: 0"* || "$output" == *"X-Exit-Code: 0"* ]]
    [[ "$output" == *"nginx version"* ]]
}

@test "the unix socket stays plain HTTP with full access" {
    [ "$(api_sock /healthz)" = ok ]
    run api_sock "/run/default/mypod/mycontainer?cmd=nginx+-v" -XPOST
    [[ "$output" == *"nginx version"* ]]
}

@test "a non-loopback listen without a certificate is still refused" {
    refused_start --listen "0.0.0.0:$(free_port)"
    [ "$status" -ne 0 ]
    [[ "$output" == *"--tls-cert-file"* ]]
}

@test "a missing certificate file, or a certificate without its key, fails the start" {
    refused_start --listen "0.0.0.0:$(free_port)" --tls-cert-file /nonexistent/cert.pem \
        --tls-key-file "$MK_TLS/key.pem"
    [ "$status" -ne 0 ]
    [[ "$output" == *"--tls-cert-file /nonexistent/cert.pem: no such file"* ]]
    refused_start --listen "127.0.0.1:$(free_port)" --tls-cert-file "$MK_TLS/cert.pem"
    [ "$status" -ne 0 ]
    [[ "$output" == *"needs --tls-key-file"* ]]
}

@test "an agent without a certificate does not even map libssl" {
    local root port pid maps
    root=$(mktemp -d /tmp/mkl-e2e-tls.XXXXXX)
    mkdir -p "$root/manifests"
    port=$(free_port)
    "$MK" --root-dir "$root" --manifest-dir "$root/manifests" --listen "127.0.0.1:$port" --network=none \
        >"$root/agent.log" 2>&1 &
    pid=$!
    wait_until 20 curl -sf "http://127.0.0.1:$port/healthz" || true
    maps=$(cat "/proc/$pid/maps" 2>/dev/null || echo "agent not running")
    kill -TERM "$pid"
    wait "$pid" || true
    "$MK" down --root-dir "$root" >/dev/null 2>&1 || true
    rm -rf "$root"
    [[ "$maps" == *libcrypto* ]]
    [[ "$maps" != *libssl* ]]
}

@test "the agent stops cleanly, with no sanitizer report in its log" {
    agent_stop
    run grep -E 'ERROR: (Address|Leak)Sanitizer|SUMMARY: [A-Za-z]+Sanitizer|runtime error: ' \
        "$MK_ROOT/agent.log"
    [ "$status" -eq 1 ]
}
