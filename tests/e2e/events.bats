#!/usr/bin/env bats
# Kubernetes Events about pods: what the agent records, and the EventList it serves.

load helpers

setup() {
    mk_root
    MK_BACKOFF_SCALE=0.05 agent_start
}

teardown() {
    mk_log_on_failure
    mk_teardown
}

sleeper() { # sleeper NAME [NAMESPACE]
    cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
  namespace: ${2:-default}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: busybox
    command: ["sleep", "3600"]
YAML
}

# events NS-PATH JQ-FILTER: the items of the EventList matching the filter, one JSON per line
events() { api "$1" | jq -c ".items[] | $2"; }
has_event() { # has_event POD REASON [FIELDPATH]
    api "/api/v1/namespaces/default/events" | jq -e --arg p "$1" --arg r "$2" --arg f "${3:-}" \
        '[.items[] | select(.involvedObject.name == $p and .reason == $r and
          ($f == "" or .involvedObject.fieldPath == $f))] | length > 0'
}

@test "a started pod has Pulled, Created and Started events, in order, as an EventList; ClusterFirst warns" {
    sleeper web | write_manifest web.yaml
    wait_until 20 pod_is_running web
    wait_until 10 has_event web Started 'spec.containers{main}'
    run api /api/v1/namespaces/default/events
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -r .kind)" = EventList ]
    [ "$(echo "$output" | jq -r .apiVersion)" = v1 ]
    reasons=$(echo "$output" | jq -r '[.items[] | select(.involvedObject.name=="web" and .involvedObject.fieldPath) | .reason] | join(",")')
    [ "$reasons" = "Pulled,Created,Started" ]
    # no cluster DNS on one node: the default dnsPolicy falls back to Default, with a warning
    dns=$(echo "$output" | jq -c '.items[] | select(.reason=="MissingClusterDNS")')
    [ "$(echo "$dns" | jq -r .type)" = Warning ]
    echo "$dns" | jq -e '.message | test("Falling back to \"Default\" policy")'
    [ "$(echo "$dns" | jq -r '.involvedObject.fieldPath // "none"')" = none ]
    uid=$(pod_uid web)
    ev=$(echo "$output" | jq -c '.items[] | select(.reason=="Started")')
    [ "$(echo "$ev" | jq -r .kind)" = Event ]
    [ "$(echo "$ev" | jq -r .type)" = Normal ]
    [ "$(echo "$ev" | jq -r .message)" = "Started container main" ]
    [ "$(echo "$ev" | jq -r .involvedObject.kind)" = Pod ]
    [ "$(echo "$ev" | jq -r .involvedObject.uid)" = "$uid" ]
    [ "$(echo "$ev" | jq -r .involvedObject.namespace)" = default ]
    [ "$(echo "$ev" | jq -r .source.component)" = kubelet ]
    [ "$(echo "$ev" | jq -r .count)" = 1 ]
    echo "$ev" | jq -e '.firstTimestamp | test("^[0-9-]+T[0-9:]+Z$")'
    echo "$ev" | jq -e '.metadata.name | startswith("web.")'
    pulled=$(echo "$output" | jq -r '.items[] | select(.reason=="Pulled") | .message')
    [ "$pulled" = 'Container image "busybox" already present on machine' ]
}

@test "deleting a pod records Killing; the events outlive the pod" {
    sleeper gone | write_manifest gone.yaml
    wait_until 20 pod_is_running gone
    rm "$MK_MANIFESTS/gone.yaml"
    wait_until 20 pod_absent gone
    has_event gone Killing 'spec.containers{main}'
    [ "$(events /api/v1/namespaces/default/events 'select(.reason=="Killing") | .message')" = '"Stopping container main"' ]
}

@test "a crash loop records BackOff (Warning) and repeats are counted, not duplicated" {
    cat <<YAML | write_manifest crash.yaml
apiVersion: v1
kind: Pod
metadata:
  name: crash
spec:
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "exit 3"]
YAML
    wait_until 30 has_event crash BackOff 'spec.containers{main}'
    ev=$(events /api/v1/namespaces/default/events 'select(.reason=="BackOff")')
    [ "$(echo "$ev" | wc -l)" -eq 1 ]
    [ "$(echo "$ev" | jq -r .type)" = Warning ]
    echo "$ev" | jq -e '.message | startswith("Back-off restarting failed container main in pod crash_default(")'
    # Started repeats with every restart: one event whose count grows
    wait_until 30 bash -c "curl -s $MK_URL/api/v1/namespaces/default/events | jq -e '[.items[] | select(.reason==\"Started\")] | length == 1 and .[0].count >= 2'"
}

@test "a missing image records Failed with the kubelet's texts" {
    cat <<YAML | write_manifest never.yaml
apiVersion: v1
kind: Pod
metadata:
  name: never
spec:
  containers:
  - name: main
    image: example.invalid/nothing:1
    imagePullPolicy: Never
YAML
    wait_until 20 has_event never ErrImageNeverPull
    msg=$(events /api/v1/namespaces/default/events 'select(.reason=="ErrImageNeverPull") | .message')
    [ "$msg" = '"Container image \"example.invalid/nothing:1\" is not present with pull policy of Never"' ]
    has_event never Failed
}

@test "events are listed per namespace and filtered by field selectors" {
    sleeper a | write_manifest a.yaml
    sleeper b other | write_manifest b.yaml
    wait_until 20 pod_is_running a
    wait_until 20 pod_is_running b other
    wait_until 10 has_event a Started
    wait_until 10 bash -c "curl -s $MK_URL/api/v1/namespaces/other/events | jq -e '[.items[] | select(.reason==\"Started\")] | length == 1'"
    [ "$(events /api/v1/namespaces/other/events '.involvedObject.namespace' | sort -u)" = '"other"' ]
    [ "$(events /api/v1/events '.involvedObject.namespace' | sort -u | wc -l)" -eq 2 ]
    run api "/api/v1/events?fieldSelector=involvedObject.name%3Db,reason%3DStarted"
    [ "$(echo "$output" | jq '.items | length')" -eq 1 ]
    [ "$(echo "$output" | jq -r '.items[0].involvedObject.name')" = b ]
    run api "/api/v1/namespaces/default/events?fieldSelector=reason!%3DStarted"
    [ "$(echo "$output" | jq '[.items[] | select(.reason=="Started")] | length')" -eq 0 ]
    [ "$(echo "$output" | jq '.items | length')" -gt 0 ]
}

@test "a bad field selector or a watch is refused with 400 and a Status" {
    run api "/api/v1/events?fieldSelector=spec.nothing%3Dx" -w '\n%{http_code}'
    [ "$(echo "$output" | tail -n1)" = 400 ]
    echo "$output" | head -n -1 | jq -e '.kind == "Status" and (.message | test("spec.nothing"))'
    run api "/api/v1/namespaces/default/events?watch=true" -w '\n%{http_code}'
    [ "$(echo "$output" | tail -n1)" = 400 ]
    echo "$output" | head -n -1 | jq -e '.message | test("watch")'
}
