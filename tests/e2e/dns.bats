#!/usr/bin/env bats
# /etc/hosts, /etc/hostname and /etc/resolv.conf as the containers see them: the pod IP,
# hostname, subdomain, hostAliases, dnsPolicy and dnsConfig.

load net_helpers

setup() {
    net_setup
}

teardown() {
    mk_log_on_failure
    net_teardown
}

# ctr_file POD PATH: a file as the pod's container "main" sees it
ctr_file() { pod_exec "$1" main cat "$2"; }

@test "dns: /etc/hosts maps the pod IP to its FQDN and hostname, then the hostAliases" {
    agent_start
    cat <<YAML | write_manifest web.yaml
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  terminationGracePeriodSeconds: 1
  hostname: front
  subdomain: team
  hostAliases:
  - ip: "192.0.2.10"
    hostnames: ["foo.local", "bar.local"]
  - ip: "2001:db8::10"
    hostnames: ["v6.local"]
  containers:
  - name: main
    image: busybox
    command: ["sleep", "3600"]
YAML
    wait_until 30 net_ready web
    wait_until 20 pod_is_running web
    net_uid web >/dev/null
    ip=$(pod_ip web)
    run ctr_file web /etc/hosts
    [ "$status" -eq 0 ]
    echo "$output" | grep -qx "# Kubernetes-managed hosts file."
    echo "$output" | grep -qxP "127\.0\.0\.1\tlocalhost"
    echo "$output" | grep -qxP "${ip//./\\.}\tfront\.team\.default\.svc\.cluster\.local\tfront"
    echo "$output" | grep -qx "# Entries added by HostAliases."
    echo "$output" | grep -qxP "192\.0\.2\.10\tfoo\.local\tbar\.local"
    echo "$output" | grep -qxP "2001:db8::10\tv6\.local"
    # the aliases come after the pod's own line
    [ "$(echo "$output" | grep -n front | cut -d: -f1)" -lt "$(echo "$output" | grep -n foo.local | cut -d: -f1)" ]
    [ "$(ctr_file web /etc/hostname)" = front ]
    [ "$(pod_exec web main hostname)" = front ]
}

@test "dns: dnsPolicy None gives exactly dnsConfig; Default merges dnsConfig into the host's file" {
    agent_start
    cat <<YAML | write_manifest none.yaml
apiVersion: v1
kind: Pod
metadata:
  name: none
spec:
  terminationGracePeriodSeconds: 1
  dnsPolicy: "None"
  dnsConfig:
    nameservers: ["192.0.2.53", "2001:db8::53"]
    searches: ["ns1.svc.example.", "my.dns.search.suffix"]
    options:
    - name: ndots
      value: "2"
    - name: edns0
  containers:
  - name: main
    image: busybox
    command: ["sleep", "3600"]
YAML
    cat <<YAML | write_manifest dflt.yaml
apiVersion: v1
kind: Pod
metadata:
  name: dflt
spec:
  terminationGracePeriodSeconds: 1
  dnsPolicy: Default
  dnsConfig:
    nameservers: ["192.0.2.54"]
    options:
    - name: ndots
      value: "3"
  containers:
  - name: main
    image: busybox
    command: ["sleep", "3600"]
YAML
    wait_until 30 pod_is_running none
    wait_until 30 pod_is_running dflt
    net_uid none >/dev/null
    net_uid dflt >/dev/null
    run ctr_file none /etc/resolv.conf
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | grep '^search')" = "search ns1.svc.example. my.dns.search.suffix" ]
    [ "$(echo "$output" | grep '^nameserver' | tr '\n' ' ')" = "nameserver 192.0.2.53 nameserver 2001:db8::53 " ]
    [ "$(echo "$output" | grep '^options')" = "options ndots:2 edns0" ]
    run ctr_file dflt /etc/resolv.conf
    [ "$status" -eq 0 ]
    # the host's nameservers first, then the pod's; the pod's option wins
    want=$(awk '$1 == "nameserver" { printf "%s ", $2 }' /etc/resolv.conf)
    [ "$(echo "$output" | awk '$1 == "nameserver" { printf "%s ", $2 }')" = "${want}192.0.2.54 " ]
    echo "$output" | grep -q '^options.*ndots:3'
    ! api /api/v1/namespaces/default/events | jq -e '.items[] | select(.involvedObject.name=="dflt" and .reason=="MissingClusterDNS")'
}

@test "dns: a hostNetwork pod gets the host's hosts file plus its aliases, and the host's name" {
    agent_start
    cat <<YAML | write_manifest hn.yaml
apiVersion: v1
kind: Pod
metadata:
  name: hn
spec:
  terminationGracePeriodSeconds: 1
  hostNetwork: true
  hostAliases:
  - ip: "192.0.2.11"
    hostnames: ["alias.local"]
  containers:
  - name: main
    image: busybox
    command: ["sleep", "3600"]
YAML
    wait_until 30 pod_is_running hn
    run ctr_file hn /etc/hosts
    [ "$status" -eq 0 ]
    # every line of the host's file is there, in order, then the aliases
    diff <(grep -vE '^(#|$)' /etc/hosts) <(echo "$output" | sed '/^# Entries added by HostAliases./,$d' | grep -vE '^(#|$)')
    echo "$output" | grep -qxP "192\.0\.2\.11\talias\.local"
    [ "$(pod_exec hn main hostname)" = "$(hostname)" ]
    [ "$(ctr_file hn /etc/resolv.conf)" = "$(cat /etc/resolv.conf)" ]
}

@test "dns: bad dnsConfig or hostAliases are refused naming the field; a hostNetwork hostPort must equal containerPort" {
    agent_start
    cat <<YAML | write_manifest bad1.yaml
apiVersion: v1
kind: Pod
metadata:
  name: bad1
spec:
  dnsPolicy: "None"
  dnsConfig:
    nameservers: ["not-an-ip"]
  containers:
  - name: main
    image: busybox
YAML
    cat <<YAML | write_manifest bad2.yaml
apiVersion: v1
kind: Pod
metadata:
  name: bad2
spec:
  hostAliases:
  - ip: "192.0.2.1"
    hostnames: ["Not_A_Name"]
  containers:
  - name: main
    image: busybox
YAML
    cat <<YAML | write_manifest bad3.yaml
apiVersion: v1
kind: Pod
metadata:
  name: bad3
spec:
  hostNetwork: true
  containers:
  - name: main
    image: busybox
    ports:
    - containerPort: 80
      hostPort: 8080
YAML
    err_of() { api /manifests | jq -r --arg f "$1" '.items[] | select(.file | endswith($f)) | .error // empty'; }
    wait_until 20 bash -c "curl -s $MK_URL/manifests | jq -e '[.items[] | select(.state==\"error\")] | length == 3'"
    err_of bad1.yaml | grep -q 'spec.dnsConfig.nameservers\[0\]: Invalid value: "not-an-ip"'
    err_of bad2.yaml | grep -q 'spec.hostAliases\[0\].hostnames\[0\]: Invalid value: "Not_A_Name"'
    err_of bad3.yaml | grep -q 'spec.containers\[0\].ports\[0\].containerPort: Invalid value: 80: must match `hostPort` when `hostNetwork` is true'
    err_of bad1.yaml | grep -qE '^/.*bad1.yaml:[0-9]+:[0-9]+: '
    [ "$(api /pods | jq '.items | length')" -eq 0 ]
}
