#!/usr/bin/env bats
# Pod networking through the real CNI plugins (bridge, host-local, portmap): addresses, reach
# from the host, between pods and out through NAT, host ports, and teardown that leaks nothing
# (veths, iptables rules, leases, cache files, namespace pins), also across agent and shim
# deaths. Every test has its own bridge, subnet, conf dir and cache dir (net_helpers.bash).

load net_helpers

setup() {
    net_setup
}

teardown() {
    mk_log_on_failure
    net_teardown
}

busybox_pod() { # busybox_pod NAME [extra spec lines]
    cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
spec:
  terminationGracePeriodSeconds: 1
${2:-}
  containers:
  - name: main
    image: busybox
    command: ["sleep", "3600"]
YAML
}

nginx_pod() { # nginx_pod NAME [HOSTPORT]
    cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: nginx
YAML
    [ -z "${2:-}" ] || printf '    ports: [{containerPort: 80, hostPort: %s}]\n' "$2"
}

# retried POD N: the agent logged at least N failed attempts at POD's sandbox; after the third
# the next attempt is seconds away (backoff 1 s, 2 s, 4 s at --backoff-scale 0.1), so what is
# seen right then is what a failed attempt left, not an attempt in progress.
retried() { [ "$(grep -c "pod default/$1: .*(retrying in " "$MK_ROOT/agent.log")" -ge "$2" ]; }

# The last `run` printed nothing (else show what it printed).
none() { [ -z "$output" ] || { printf 'expected nothing, got:\n%s\n' "$output"; return 1; }; }

# A valid conflist on the test's bridge and subnet, with an optional extra plugin type.
conflist() { # conflist [EXTRA_TYPE]
    local extra=
    [ -z "${1:-}" ] || extra=", {\"type\": \"$1\"}"
    cat <<JSON
{"cniVersion": "1.0.0", "name": "mini-kubelet", "plugins": [
  {"type": "bridge", "bridge": "$NET_BR", "isGateway": true, "ipMasq": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$NET_CIDR"}]],
            "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$NET_CACHE/networks"}}$extra]}
JSON
}

write_conf() { # write_conf DIR FILE < content   (atomic: a dotfile is never read)
    cat >"$1/.tmp"
    mv "$1/.tmp" "$1/$2"
}

# An address inside the test's subnet, not the network, gateway or broadcast address.
in_subnet() { # in_subnet IP
    python3 -c 'import ipaddress, sys
n = ipaddress.ip_network(sys.argv[2]); a = ipaddress.ip_address(sys.argv[1])
sys.exit(0 if a in n and a not in (n.network_address, n.broadcast_address, n.network_address + 1) else 1)' \
        "$1" "$NET_CIDR"
}

@test "network: a pod gets an IP from the configured range, the default conflist names the bridge and subnet" {
    agent_start
    busybox_pod one | write_manifest one.yaml
    wait_until 30 ctr_running one main
    wait_until 10 net_ready one
    uid=$(net_uid one)
    ip=$(pod_ip one)
    in_subnet "$ip"
    [ "$(pod_json one | jq -c '.status.podIPs')" = "[{\"ip\":\"$ip\"}]" ]
    [ "$(pod_cond one PodReadyToStartContainers)" = True ]
    # the default network was written with this bridge and subnet, and the log names the file
    conf=$NET_CONF/10-mini-kubelet.conflist
    [ "$(ls "$NET_CONF")" = 10-mini-kubelet.conflist ]
    jq -e --arg br "$NET_BR" --arg sn "$NET_CIDR" '.plugins[0].type == "bridge" and
        .plugins[0].bridge == $br and .plugins[0].isGateway == true and .plugins[0].ipMasq == true and
        .plugins[0].hairpinMode == true and .plugins[0].ipam.type == "host-local" and .plugins[0].ipam.ranges[0][0].subnet == $sn and
        ([.plugins[].type] | index("portmap")) != null' "$conf"
    grep -F "$conf" "$MK_ROOT/agent.log" | grep -F "$NET_BR" | grep -qF "$NET_CIDR"
    # the kernel's view: the container's eth0 holds the address, its namespace is the pinned one
    pid=$(ctr_pid "$uid" main)
    nsenter -t "$pid" -n ip -4 -o addr show dev eth0 | grep -qF " $ip/"
    nsenter -t "$pid" -n ip -4 route show default | grep -qF "via $NET_GW"
    [ "$(stat -f -c %T "$NET_PINS/$uid")" = nsfs ]
    [ "$(stat -L -c %i "$NET_PINS/$uid")" = "$(ns_ino "$pid" net)" ]
    [ "$(ns_ino "$pid" net)" != "$(ns_ino $$ net)" ]
    ip -o link show master "$NET_BR" | grep -qF "$(net_host_veth "$uid")"
    [ "$(lease_files)" = "$ip" ]
    # inspect shows the same address
    api "/inspect/default/one" | jq -e --arg a "$ip/" '[.network.ips[]?.address | startswith($a)] | any'
}

@test "network: the host reaches nginx on the pod IP" {
    agent_start
    nginx_pod web | write_manifest web.yaml
    wait_until 30 ctr_running web web
    wait_until 10 net_ready web
    net_uid web >/dev/null
    ip=$(pod_ip web)
    in_subnet "$ip"
    wait_until 10 curl -sf -m 2 "http://$ip/"
    run curl -sf -m 5 "http://$ip/"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Welcome to nginx"* ]]
}

@test "network: pod to pod by IP, and from a pod to the host and through NAT beyond it" {
    agent_start
    nginx_pod web | write_manifest web.yaml
    busybox_pod client | write_manifest client.yaml
    wait_until 30 ctr_running web web
    wait_until 30 ctr_running client main
    wait_until 10 net_ready web
    wait_until 10 net_ready client
    net_uid web >/dev/null
    net_uid client >/dev/null
    web_ip=$(pod_ip web)
    client_ip=$(pod_ip client)
    [ "$web_ip" != "$client_ip" ]
    # pod to pod
    wait_until 10 pod_exec client main timeout 5 wget -q -O - "http://$web_ip/"
    run pod_exec client main timeout 5 wget -q -O - "http://$web_ip/"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Welcome to nginx"* ]]
    # the pod reaches a server on the host's own address through its gateway
    host=$(net_host_addr)
    port=$(free_port)
    mkdir -p "$BATS_TEST_TMPDIR/www"
    echo "host-token-$NET_BR" >"$BATS_TEST_TMPDIR/www/token"
    net_http_server "" "$host" "$port" "$BATS_TEST_TMPDIR/www" "$BATS_TEST_TMPDIR/host.log"
    wait_until 10 curl -sf -m 2 "http://$host:$port/token"
    run pod_exec client main timeout 5 wget -q -O - "http://$host:$port/token"
    [ "$status" -eq 0 ]
    [ "$output" = "host-token-$NET_BR" ]
    # NAT: a server on a network beyond the host sees the host's address, not the pod's
    net_outside
    net_http_server "$NET_OUT" "$NET_OUT_ADDR" 8080 "$BATS_TEST_TMPDIR/www" "$BATS_TEST_TMPDIR/out.log"
    echo ready >"$BATS_TEST_TMPDIR/www/ready"
    wait_until 10 curl -sf -m 2 "http://$NET_OUT_ADDR:8080/ready"
    run pod_exec client main timeout 5 wget -q -O - "http://$NET_OUT_ADDR:8080/token"
    [ "$status" -eq 0 ]
    [ "$output" = "host-token-$NET_BR" ]
    wait_until 5 grep -q 'GET /token ' "$BATS_TEST_TMPDIR/out.log"
    grep 'GET /token ' "$BATS_TEST_TMPDIR/out.log" | grep -q "^$NET_OUT_GW "
    ! grep -qF "$client_ip" "$BATS_TEST_TMPDIR/out.log"
}

@test "network: hostPort answers on 127.0.0.1 and on the host's own address, and stops after delete" {
    agent_start
    port=$(free_port)
    nginx_pod web "$port" | write_manifest web.yaml
    wait_until 30 ctr_running web web
    wait_until 10 net_ready web
    uid=$(net_uid web)
    wait_until 10 curl -sf -m 2 "http://127.0.0.1:$port/"
    run curl -sf -m 5 "http://127.0.0.1:$port/"
    [[ "$output" == *"Welcome to nginx"* ]]
    host=$(net_host_addr)
    run curl -sf -m 5 "http://$host:$port/"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Welcome to nginx"* ]]
    # the mapping went through the cache to portmap
    jq -e --argjson p "$port" '.capabilityArgs.portMappings == [{"hostPort": $p, "containerPort": 80, "protocol": "tcp"}]' \
        "$NET_CACHE/results/mini-kubelet-$uid-eth0"
    ipt_rules_of "$uid" | grep -q -- "--dports $port "
    veth=$(net_host_veth "$uid")
    rm "$MK_MANIFESTS/web.yaml"
    wait_until 30 pod_absent web
    wait_until 10 net_pod_gone "$uid" "$veth"
    run curl -s -m 2 "http://127.0.0.1:$port/"
    [ "$status" -ne 0 ]
    [ -z "$(net_leaks)" ]
}

@test "network: delete frees the IP for the next pod (/30) and leaves no veth, rule, lease, cache or pin" {
    net_use_prefix 30 # one pod address only: .2
    agent_start
    busybox_pod a | write_manifest a.yaml
    wait_until 30 ctr_running a main
    wait_until 10 net_ready a
    ua=$(net_uid a)
    ip=$(pod_ip a)
    [ "$ip" = "${NET_PFX}2" ]
    [ "$(lease_files)" = "$ip" ]
    grep -qF "$ua" "$NET_LEASES/$ip"
    veth=$(net_host_veth "$ua")
    [ -n "$veth" ]
    [ -n "$(ipt_rules_of "$ua")" ]
    rm "$MK_MANIFESTS/a.yaml"
    wait_until 30 pod_absent a
    wait_until 10 net_pod_gone "$ua" "$veth"
    [ -z "$(lease_files)" ]
    [ -z "$(result_files)" ]
    [ -z "$(pin_files)" ]
    [ -z "$(veths_on_bridge)" ]
    run net_leaks
    none
    # the next pod gets the same (only) address
    busybox_pod b | write_manifest b.yaml
    wait_until 30 ctr_running b main
    wait_until 10 net_ready b
    ub=$(net_uid b)
    [ "$(pod_ip b)" = "$ip" ]
    # the range is exhausted: a third pod waits, attached nowhere, and starts once b is gone
    busybox_pod c | write_manifest c.yaml
    wait_until 30 bash -c "[ \"\$(curl -s $MK_URL/api/v1/namespaces/default/pods/c | jq -r '.status.containerStatuses[0].state.waiting.reason')\" = ContainerCreating ]"
    uc=$(net_uid c)
    wait_until 30 retried c 3
    ctr_field c main .state.waiting.message | grep -qi 'no IP addresses available'
    has_event c FailedCreatePodSandBox "no IP addresses available"
    [ "$(pod_cond c PodReadyToStartContainers)" != True ]
    [ -z "$(pod_ip c)" ]
    [ "$(veths_on_bridge | wc -l)" = 1 ]
    [ -z "$(net_pod_leftovers "$uc" "")" ]
    rm "$MK_MANIFESTS/b.yaml"
    wait_until 30 pod_absent b
    wait_until 60 ctr_running c main
    wait_until 10 net_ready c
    [ "$(pod_ip c)" = "$ip" ]
    [ "$(lease_files)" = "$ip" ]
    grep -qF "$uc" "$NET_LEASES/$ip"
    [ -z "$(ipt_rules_of "$ub")" ]
}

@test "network: after kill -9 of the agent and a delete while it was down, the restart runs DEL" {
    agent_start
    port=$(free_port)
    nginx_pod web "$port" | write_manifest web.yaml
    wait_until 30 ctr_running web web
    wait_until 10 net_ready web
    uid=$(net_uid web)
    veth=$(net_host_veth "$uid")
    ip link show "$veth" >/dev/null
    [ -n "$(ipt_rules_of "$uid")" ]
    agent_kill9
    rm "$MK_MANIFESTS/web.yaml"
    # nothing was removed while the agent was down
    ip link show "$veth" >/dev/null
    [ -e "$NET_CACHE/results/mini-kubelet-$uid-eth0" ]
    agent_start
    wait_until 30 pod_absent web
    wait_until 30 net_pod_gone "$uid" "$veth"
    [ -z "$(lease_files)" ]
    [ -z "$(result_files)" ]
    [ -z "$(pin_files)" ]
    [ -z "$(veths_on_bridge)" ]
    run net_leaks
    none
    # exactly once: one DEL per plugin for this pod in the log
    [ "$(grep -c "CNI plugin bridge DEL for $uid" "$MK_ROOT/agent.log")" = 1 ]
    [ "$(grep -c "CNI plugin portmap DEL for $uid" "$MK_ROOT/agent.log")" = 1 ]
}

@test "network: kill -9 of the shim: the sandbox is recreated with exactly one attachment" {
    agent_start
    nginx_pod box | write_manifest box.yaml
    wait_until 30 ctr_running box web
    wait_until 10 net_ready box
    uid=$(net_uid box)
    old_veth=$(net_host_veth "$uid")
    old_ns=$(stat -L -c %i "$NET_PINS/$uid")
    shim=$(cat "$MK_ROOT/run/mini-kubelet/pods/$uid/shim.pid")
    kill -9 "$shim"
    wait_until 60 bash -c "s=\$(cat $MK_ROOT/run/mini-kubelet/pods/$uid/shim.pid 2>/dev/null); [ -n \"\$s\" ] && [ \"\$s\" != $shim ]"
    wait_until 60 ctr_running box web
    wait_until 10 net_ready box
    [ "$(pod_uid box)" = "$uid" ]
    # the old attachment is gone, a single new one is there
    ! ip link show "$old_veth" 2>/dev/null
    new_veth=$(net_host_veth "$uid")
    [ "$new_veth" != "$old_veth" ]
    [ "$(veths_on_bridge)" = "$new_veth" ]
    [ "$(result_files)" = "mini-kubelet-$uid-eth0" ]
    [ "$(pin_files)" = "$uid" ]
    [ "$(stat -L -c %i "$NET_PINS/$uid")" != "$old_ns" ]
    [ "$(stat -L -c %i "$NET_PINS/$uid")" = "$(ns_ino "$(ctr_pid "$uid" web)" net)" ]
    ip=$(pod_ip box)
    [ "$(lease_files)" = "$ip" ]
    [ "$(ipt_rules_of "$uid" | grep -c '^-A POSTROUTING ')" = 1 ]
    ipt_rules_of "$uid" | grep -q -- "-A POSTROUTING -s $ip/32 "
    # and it works
    wait_until 10 curl -sf -m 2 "http://$ip/"
}

@test "network: a conflist with bad JSON gives a NetworkNotReady event, no crash, and retries once fixed" {
    dir=$MK_ROOT/cni-conf
    mkdir -p "$dir"
    printf '{"cniVersion": "1.0.0", "name": "broken", "plugins": [' >"$dir/10-broken.conflist"
    MK_NET_FLAGS="--network=cni --cni-conf-dir $dir --cni-cache-dir $NET_CACHE"
    agent_start
    busybox_pod box | write_manifest box.yaml
    wait_until 30 has_event box NetworkNotReady 10-broken.conflist
    uid=$(net_uid box)
    [ "$(ctr_field box main .state.waiting.reason)" = ContainerCreating ]
    [[ "$(ctr_field box main .state.waiting.message)" == *10-broken.conflist* ]]
    [ "$(pod_cond box PodReadyToStartContainers)" != True ]
    [ -z "$(pod_ip box)" ]
    # the agent is up, wrote no default over the broken file, and attached nothing
    kill -0 "$MK_AGENT_PID"
    curl -sf "$MK_URL/healthz"
    [ "$(ls "$dir")" = 10-broken.conflist ]
    [ -z "$(result_files)" ]
    [ -z "$(pin_files)" ]
    [ -z "$(net_pod_leftovers "$uid" "")" ]
    # fixed: the retry attaches the pod
    conflist | write_conf "$dir" 10-broken.conflist
    wait_until 60 ctr_running box main
    wait_until 10 net_ready box
    in_subnet "$(pod_ip box)"
    [ "$(result_files)" = "mini-kubelet-$uid-eth0" ]
}

@test "network: a missing plugin binary gives a NetworkNotReady event naming it, nothing half-attached, retried once fixed" {
    dir=$MK_ROOT/cni-conf
    mkdir -p "$dir"
    conflist mkn-no-such-plugin | write_conf "$dir" 10-net.conflist
    MK_NET_FLAGS="--network=cni --cni-conf-dir $dir --cni-cache-dir $NET_CACHE"
    agent_start
    busybox_pod box | write_manifest box.yaml
    wait_until 30 has_event box NetworkNotReady mkn-no-such-plugin
    wait_until 30 retried box 3
    uid=$(net_uid box)
    [ "$(ctr_field box main .state.waiting.reason)" = ContainerCreating ]
    [[ "$(ctr_field box main .state.waiting.message)" == *mkn-no-such-plugin* ]]
    [ "$(pod_cond box PodReadyToStartContainers)" != True ]
    [ -z "$(pod_ip box)" ]
    kill -0 "$MK_AGENT_PID"
    # whatever bridge did before the chain failed was undone
    [ -z "$(veths_on_bridge)" ]
    [ -z "$(lease_files)" ]
    [ -z "$(result_files)" ]
    [ -z "$(pin_files)" ]
    run net_leaks
    none
    conflist | write_conf "$dir" 10-net.conflist
    wait_until 60 ctr_running box main
    wait_until 10 net_ready box
    ip=$(pod_ip box)
    in_subnet "$ip"
    [ "$(lease_files)" = "$ip" ]
    [ "$(veths_on_bridge | wc -l)" = 1 ]
}

@test "network: --network=none gives pods loopback only, no IP and no CNI config" {
    MK_NET_FLAGS=--network=none
    agent_start
    busybox_pod box | write_manifest box.yaml
    wait_until 30 ctr_running box main
    uid=$(pod_uid box)
    pid=$(ctr_pid "$uid" main)
    [ "$(ns_ino "$pid" net)" != "$(ns_ino $$ net)" ]
    [ "$(awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' "/proc/$pid/net/dev")" = lo ]
    nsenter -t "$pid" -n ip -o link show lo | grep -q '[<,]UP[,>]'
    [ -z "$(pod_ip box)" ]
    [ "$(pod_json box | jq -r '.status.podIPs // [] | length')" = 0 ]
    [ "$(pod_cond box PodReadyToStartContainers)" = True ]
    [ -z "$(ls -A "$NET_CONF" 2>/dev/null)" ]
    [ -z "$(result_files)" ]
    [ -z "$(pin_files)" ]
    ! ip link show "$NET_BR" 2>/dev/null
}

@test "network: a hostNetwork pod skips CNI and has the host's IP" {
    agent_start
    busybox_pod hn "  hostNetwork: true" | write_manifest hn.yaml
    wait_until 30 ctr_running hn main
    uid=$(pod_uid hn)
    pid=$(ctr_pid "$uid" main)
    [ "$(ns_ino "$pid" net)" = "$(ns_ino $$ net)" ]
    ip=$(pod_ip hn)
    [ "$ip" = "$(pod_json hn | jq -r .status.hostIP)" ]
    ip -4 -o addr show | grep -qF " $ip/"
    [ "$(pod_cond hn PodReadyToStartContainers)" = True ]
    [ -z "$(result_files)" ]
    [ -z "$(pin_files)" ]
    [ -z "$(lease_files)" ]
    ! ip link show "$NET_BR" 2>/dev/null
}

# `down` is given its root after the word, as users type it: the CNI cache and the netns dir
# must follow that root, not the default one.
@test "network: down after networked pods leaves no veth, rule, lease, cache, pin or mount" {
    agent_start
    port=$(free_port)
    nginx_pod web "$port" | write_manifest web.yaml
    busybox_pod box | write_manifest box.yaml
    wait_until 30 ctr_running web web
    wait_until 30 ctr_running box main
    wait_until 10 net_ready web
    wait_until 10 net_ready box
    u1=$(net_uid web)
    u2=$(net_uid box)
    v1=$(net_host_veth "$u1")
    v2=$(net_host_veth "$u2")
    [ "$(veths_on_bridge | wc -l)" = 2 ]
    grep -qF " $NET_PINS " /proc/mounts
    run "$MK" down --root-dir "$MK_ROOT"
    [ "$status" -eq 0 ]
    ! kill -0 "$MK_AGENT_PID" 2>/dev/null
    run net_pod_leftovers "$u1" "$v1"
    none
    run net_pod_leftovers "$u2" "$v2"
    none
    [ -z "$(veths_on_bridge)" ]
    [ -z "$(lease_files)" ]
    [ -z "$(result_files)" ]
    [ -z "$(pin_files)" ]
    ! grep -qF " $NET_PINS " /proc/mounts
    [ -z "$(root_leftovers)" ]
    run net_leaks
    none
}

@test "network: dual stack: podIPs carries both families, both answer, /etc/hosts has both, DEL leaves no rule" {
    v6=fd$(od -An -N1 -tx1 /dev/urandom | tr -d ' \n'):$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')::/64
    mkdir -p "$NET_CONF"
    write_conf "$NET_CONF" 10-ds.conflist <<JSON
{"cniVersion": "1.0.0", "name": "mini-kubelet", "plugins": [
  {"type": "bridge", "bridge": "$NET_BR", "isGateway": true, "ipMasq": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$NET_CIDR"}], [{"subnet": "$v6"}]],
            "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}], "dataDir": "$NET_CACHE/networks"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
JSON
    agent_start
    cat <<YAML | write_manifest ds.yaml
apiVersion: v1
kind: Pod
metadata:
  name: ds
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    command: ["httpd", "-f", "-p", "8080", "-h", "/etc"]
YAML
    wait_until 30 ctr_running ds main
    wait_until 10 net_ready ds
    uid=$(net_uid ds)
    ip4=$(pod_ip ds)
    in_subnet "$ip4"
    ip6=$(pod_json ds | jq -r '.status.podIPs[1].ip')
    python3 -c 'import ipaddress, sys; sys.exit(0 if ipaddress.ip_address(sys.argv[1]) in ipaddress.ip_network(sys.argv[2]) else 1)' "$ip6" "$v6"
    [ "$(pod_json ds | jq -c '[.status.podIPs[].ip]')" = "[\"$ip4\",\"$ip6\"]" ]
    # /etc/hosts maps both addresses to the pod's name; the host reaches the pod on both
    grep -qxP "${ip4//./\\.}\tds" "$MK_ROOT/var/lib/mini-kubelet/pods/$uid/etc-hosts"
    grep -qxF "$(printf '%s\tds' "$ip6")" "$MK_ROOT/var/lib/mini-kubelet/pods/$uid/etc-hosts"
    wait_until 10 curl -sf -o /dev/null "http://$ip4:8080/hostname"
    wait_until 10 curl -sf -g -o /dev/null "http://[$ip6]:8080/hostname"
    [ "$(curl -s -g "http://[$ip6]:8080/hostname")" = ds ]
    # delete: both leases go, and neither iptables nor ip6tables keeps a rule for the pod
    veth=$(net_host_veth "$uid")
    rm "$MK_MANIFESTS/ds.yaml"
    wait_until 20 pod_absent ds
    wait_until 10 net_pod_gone "$uid" "$veth"
    run bash -c "ip6tables-save | grep -F 'id: \"$uid\"'"
    none
    run lease_files
    none
}

@test "network: a config the plugin rejects on ADD and DEL alike does not block the pod once fixed" {
    mkdir -p "$NET_CONF"
    # host-local parses the range only when it runs: ADD fails, and so does the DEL undoing it
    conflist | sed 's|"subnet": "[^"]*"|"subnet": "10.0.0.0/99"|' | write_conf "$NET_CONF" 10-bad.conflist
    agent_start
    busybox_pod stuck | write_manifest stuck.yaml
    wait_until 20 has_event stuck FailedCreatePodSandBox "10.0.0.0/99"
    [ "$(ctr_field stuck main .state.waiting.reason)" = ContainerCreating ]
    conflist | write_conf "$NET_CONF" 10-bad.conflist
    wait_until 60 ctr_running stuck main
    wait_until 10 net_ready stuck
    uid=$(net_uid stuck)
    in_subnet "$(pod_ip stuck)"
    # the unremovable record was set aside, reported, and is no longer in the cache
    has_event stuck FailedKillPod "$NET_CACHE/failed/"
    ls "$NET_CACHE/failed" | grep -qF "$uid"
    [ "$(result_files)" = "mini-kubelet-$uid-eth0" ]
}
