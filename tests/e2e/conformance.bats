#!/usr/bin/env bats
# The Kubernetes documentation's example manifests (the conformance corpus), run by one real agent.
#
# Every corpus file is copied, byte for byte, into the manifest directory of one agent. Each file
# must end accepted (its pods known to the API and in a sane state), rejected with
# "file:line:col: field.path: reason", or reported as a duplicate of a pod another file defines.
# Images the local store lacks (busybox:1.28, nginx:1.14.2, registry.k8s.io/pause, ...) leave
# their containers waiting for the image; `busybox` and `nginx` (tag latest) are imported and run.
# Then every manifest is removed and nothing of the pods may be left on the machine.
#
# The copies keep the documentation's grace period (30 s by default): busybox's `sh -c` as the
# container's PID 1 ignores SIGTERM, so removing the manifests takes one full grace period. That
# is the behaviour under test, and it fits the time budget, so the copies are not rewritten.

load helpers

CORPUS=${MK_CONFORMANCE_DIR:-$MK_SOURCE_DIR/../shared/conformance}/k8s-website-examples

# A pod is sane once it is Running, Succeeded or Failed and a container that waits there waits
# only for its image or a crash-loop back-off (not being created, not on a runtime error), or
# once it is Pending only because images are missing: every container has a status and each
# one that waits, waits for its image.
JQ_SANE='
def imgwait: . == "ErrImagePull" or . == "ImagePullBackOff" or . == "InvalidImageName";
def waits: [(.status.containerStatuses // [])[] | .state.waiting.reason // empty];
def waitingctrs: [(.status.containerStatuses // [])[] | select(.state.waiting != null)];
def sane:
  .status.phase as $p |
  if $p == "Running" or $p == "Succeeded" or $p == "Failed" then
    (waits | all(imgwait or . == "CrashLoopBackOff"))
  elif $p == "Pending" then
    ((.status.containerStatuses // []) | length) == (.spec.containers | length)
    and (waitingctrs | length) > 0
    and (waitingctrs | all(.state.waiting.reason | imgwait))
  else false end;
def describe:
  "\(.metadata.namespace)/\(.metadata.name) \(.status.phase) " +
  ([(.status.containerStatuses // [])[] | "\(.name)=\(.state | keys | join(","))" +
    "(\([.state[] | .reason? // empty] | join(",")))"] | join(" "));
'

# The flat name of a corpus file: its path with "/" turned into "__".
flat_name() { echo "${1//\//__}"; }

setup_file() {
    [ -d "$CORPUS" ] || {
        echo "conformance corpus not found at $CORPUS (set MK_CONFORMANCE_DIR)" >&2
        return 1
    }
    mk_root
    agent_start
    CONF=$BATS_FILE_TMPDIR
    export CONF
    # flat name <TAB> path in the corpus, in the order the agent ranks files (by name); every
    # manifest of the corpus ends in .yaml (its other file is SOURCE.md)
    (cd "$CORPUS" && find . -type f -name '*.yaml' | sed 's|^\./||') |
        while read -r rel; do printf '%s\t%s\n' "$(flat_name "$rel")" "$rel"; done |
        LC_ALL=C sort >"$CONF/files.tsv"
    local flat rel
    while IFS=$'\t' read -r flat rel; do
        cp "$CORPUS/$rel" "$MK_MANIFESTS/.$flat.tmp"
        mv "$MK_MANIFESTS/.$flat.tmp" "$MK_MANIFESTS/$flat"
    done <"$CONF/files.tsv"
    : >"$CONF/outcomes.tsv"
}

# On failure, the agent's last lines without DEBUG (image pull retries flood DEBUG here).
teardown() {
    if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -n "${MK_ROOT:-}" ]; then
        echo "---- last lines of $MK_ROOT/agent.log (DEBUG left out) ----" >&3
        grep -v ' DEBUG ' "$MK_ROOT/agent.log" | tail -n 40 >&3 || true
    fi
}

teardown_file() {
    # MK_CONFORMANCE_LOG=FILE keeps a copy of the agent's log
    if [ -n "${MK_CONFORMANCE_LOG:-}" ] && [ -n "${MK_ROOT:-}" ]; then
        cp "$MK_ROOT/agent.log" "$MK_CONFORMANCE_LOG" || true
    fi
    mk_teardown
}

n_files() { wc -l <"$CONF/files.tsv"; }
no_leftovers() { [ -z "$(root_leftovers)" ]; }
manifests() { api /manifests; }
corpus_path() { awk -F'\t' -v f="$1" '$1 == f { print $2 }' "$CONF/files.tsv"; }

# Every copied file is listed with a final state.
all_final() {
    local n
    n=$(manifests | jq '[.items[] | select(.state == "ok" or .state == "error" or .state == "duplicate")] | length')
    [ "$n" = "$(n_files)" ]
}

# Pods of the API that are not sane yet, one line each.
insane_pods() {
    api /api/v1/pods | jq -r "$JQ_SANE"' .items[] | select(sane | not) | describe'
}
all_pods_sane() { [ -z "$(insane_pods)" ]; }

# Record a pod's outcome for the summary: FILE POD CLASS DETAIL.
record() { printf '%s\t%s\t%s\t%s\n' "$@" >>"$CONF/outcomes.tsv"; }
record_pods_of() { # record_pods_of FILE: the current state of the pods an ok file defines
    local f=$1 key class
    for key in $(manifests | jq -r --arg f "$MK_MANIFESTS/$f" '.items[] | select(.file == $f) | .pods[]'); do
        class=$(pod_json "${key#*/}" "${key%%/*}" | jq -r "$JQ_SANE"'
            if .status.phase == "Pending" then "waiting-for-image" else "started" end')
        record "$f" "$key" "$class" "$(pod_json "${key#*/}" "${key%%/*}" | jq -r "$JQ_SANE describe")"
    done
}

# Containers of one pod whose image is one of the imported ones: "busybox" or "nginx".
local_image_ctrs() { # local_image_ctrs NS NAME
    pod_json "$2" "$1" | jq -r '.spec.containers[] | select(.image == "busybox" or .image == "nginx") | "\(.name) \(.image)"'
}

ctr_running_ns() { # ctr_running_ns NS POD CTR
    [ "$(pod_json "$2" "$1" | jq -r --arg c "$3" '.status.containerStatuses[] | select(.name == $c) | .state.running != null')" = true ]
}

# Check that a pod's busybox and nginx containers really run: the API says running, the kernel
# has their processes in the container's cgroup, nginx answers in the pod's network namespace.
# Prints how many such containers the pod has.
check_local_image_ctrs() { # check_local_image_ctrs NS NAME
    local ns=$1 name=$2 ctr image uid pid n=0
    while read -r ctr image; do
        [ -n "$ctr" ] || continue
        wait_until 30 ctr_running_ns "$ns" "$name" "$ctr" || {
            echo "$ns/$name: container $ctr ($image) is not running: $(pod_json "$name" "$ns" | jq -c .status.containerStatuses)" >&2
            return 1
        }
        uid=$(pod_uid "$name" "$ns")
        pid=$(ctr_pid "$uid" "$ctr")
        [ -n "$pid" ] || { echo "$ns/$name: no process in the cgroup of $ctr" >&2; return 1; }
        if [ "$image" = nginx ]; then
            wait_until 10 nsenter --net="/proc/$pid/ns/net" curl -sf http://127.0.0.1:80/ || {
                echo "$ns/$name: nginx in $ctr does not answer on port 80" >&2
                return 1
            }
            nsenter --net="/proc/$pid/ns/net" curl -s http://127.0.0.1:80/ | grep -qi nginx || {
                echo "$ns/$name: the page nginx serves in $ctr does not name nginx" >&2
                return 1
            }
        fi
        n=$((n + 1))
    done < <(local_image_ctrs "$ns" "$name")
    echo "$n"
}

@test "every corpus file reaches a final state in GET /manifests" {
    [ "$(n_files)" -ge 149 ]
    # flat names are unique
    [ "$(cut -f1 "$CONF/files.tsv" | sort -u | wc -l)" = "$(n_files)" ]
    wait_until 60 all_final || {
        manifests | jq -r '.items[] | "\(.state) \(.file)"' >&2
        return 1
    }
    manifests >"$CONF/manifests.json"
    [ "$(jq '.items | length' "$CONF/manifests.json")" = "$(n_files)" ]
    # every copied file, and only those, is listed
    diff <(jq -r '.items[].file' "$CONF/manifests.json" | sed "s|^$MK_MANIFESTS/||" | LC_ALL=C sort) \
        <(cut -f1 "$CONF/files.tsv")
}

@test "accepted files: every pod they define is known to the API, and no other pod is" {
    local m=$CONF/manifests.json f key ns name
    [ "$(jq '[.items[] | select(.state == "ok")] | length' "$m")" -gt 0 ]
    jq -e '[.items[] | select(.state == "ok" and (.pods | length) == 0)] | length == 0' "$m"
    while read -r f key; do
        ns=${key%%/*} name=${key#*/}
        [ "$(pod_json "$name" "$ns" | jq -r .metadata.name)" = "$name" ] || {
            echo "$f: pod $key is not known to the API" >&2
            return 1
        }
        # the pod comes from that file: its name is written in it
        grep -qF "$name" "$CORPUS/$(corpus_path "${f##*/}")"
    done < <(jq -r '.items[] | select(.state == "ok") | .file as $f | .pods[] | "\($f) \(.)"' "$m")
    diff <(jq -r '[.items[] | select(.state == "ok") | .pods[]] | sort[]' "$m") \
        <(api /api/v1/pods | jq -r '[.items[] | "\(.metadata.namespace)/\(.metadata.name)"] | sort[]')
}

@test "rejected files: file:line:col: field.path: reason, logged by the agent" {
    local m=$CONF/manifests.json f msg flat re
    [ "$(jq '[.items[] | select(.state == "error")] | length' "$m")" -gt 0 ]
    while IFS=$'\t' read -r f msg; do
        flat=${f##*/}
        re="^$(printf '%s' "$f" | sed 's/[][\.*^$]/\\&/g'):[0-9]+:[0-9]+: (invalid YAML: .+|[][A-Za-z0-9_./-]+: .+)$"
        [[ "$msg" =~ $re ]] || {
            echo "badly formed error for $flat: $msg" >&2
            return 1
        }
        grep -qF "${msg%%: *}" "$MK_ROOT/agent.log" || {
            echo "$flat: error not in the agent log: $msg" >&2
            return 1
        }
        [ "$(jq --arg f "$f" '[.items[] | select(.file == $f) | .pods[]] | length' "$m")" = 0 ]
    done < <(jq -r '.items[] | select(.state == "error") | "\(.file)\t\(.error)"' "$m")
}

@test "files holding only ConfigMaps or Secrets are rejected naming the kind" {
    local m=$CONF/manifests.json flat rel kinds n=0 msg
    while IFS=$'\t' read -r flat rel; do
        # top-level kinds: unindented in block style, indented two in the flow-style files
        kinds=$(grep -oE '^ {0,2}"?kind"?: *"?[A-Za-z]+' "$CORPUS/$rel" | sed -E 's/.*[:"] *"?//' | sort -u)
        [ -n "$kinds" ] || continue
        echo "$kinds" | grep -qvE '^(ConfigMap|Secret)$' && continue
        n=$((n + 1))
        msg=$(jq -r --arg f "$MK_MANIFESTS/$flat" '.items[] | select(.file == $f) | "\(.state) \(.error)"' "$m")
        [[ "$msg" =~ ^error\ .+:[0-9]+:[0-9]+:\ kind:\ (ConfigMap|Secret)\ .*not\ supported ]] || {
            echo "$rel: $msg" >&2
            return 1
        }
    done <"$CONF/files.tsv"
    [ "$n" -ge 5 ]
}

@test "files the API server refuses get its reason; broken YAML gets its position" {
    local m=$CONF/manifests.json
    err_of() { jq -r --arg f "$MK_MANIFESTS/$(flat_name "$1")" '.items[] | select(.file == $f) | .error' "$m"; }
    [[ "$(err_of pods/inject/envars-file-container.yaml)" == *":9:48: invalid YAML: found unknown escape character"* ]]
    [[ "$(err_of pods/security/seccomp/fields.yaml)" == *": spec.ephemeralContainers: Forbidden: cannot be set on create" ]]
    [[ "$(err_of pods/private-reg-pod.yaml)" == *":9:3: spec.imagePullSecrets: not supported" ]]
    [[ "$(err_of pods/resource/memory-request-limit-2.yaml)" == *": spec.containers[0].resources: "* ]]
}

@test "duplicates name the file that wins, which is accepted and defines that pod" {
    local m=$CONF/manifests.json f msg re key winner LC_ALL=C
    [ "$(jq '[.items[] | select(.state == "duplicate")] | length' "$m")" -gt 0 ]
    re='pod ([^ ]+) is already defined in ([^;]+);'
    while IFS=$'\t' read -r f msg; do
        [[ "$msg" == "$f: "* && "$msg" =~ $re ]] || {
            echo "badly formed duplicate message: $msg" >&2
            return 1
        }
        key=${BASH_REMATCH[1]} winner=${BASH_REMATCH[2]}
        jq -e --arg w "$winner" --arg k "$key" \
            '.items[] | select(.file == $w) | .state == "ok" and (.pods | index($k) != null)' "$m"
        # the first file by name wins
        [[ "$winner" < "$f" ]]
        # the losing file defines the same pod
        grep -qF "${key#*/}" "$CORPUS/$(corpus_path "${f##*/}")"
    done < <(jq -r '.items[] | select(.state == "duplicate") | "\(.file)\t\(.error)"' "$m")
}

@test "every accepted pod reaches a sane state; none is stuck in ContainerCreating" {
    wait_until 60 all_pods_sane || {
        echo "pods in a surprising state:" >&2
        insane_pods >&2
        return 1
    }
    [ "$(api /api/v1/pods | jq '.items | length')" -gt 0 ]
    local f
    for f in $(jq -r '.items[] | select(.state == "ok") | .file' "$CONF/manifests.json"); do
        record_pods_of "${f##*/}"
    done
}

@test "pods with image busybox or nginx (the imported latest tags) really run" {
    local key n total=0
    for key in $(api /api/v1/pods | jq -r '.items[] | select([.spec.containers[].image] | any(. == "busybox" or . == "nginx")) | "\(.metadata.namespace)/\(.metadata.name)"'); do
        n=$(check_local_image_ctrs "${key%%/*}" "${key#*/}")
        total=$((total + n))
    done
    echo "$total" >>"$CONF/local-ctrs"
    [ "$total" -ge 5 ]
    # dependent environment variables are expanded as the kubelet does. (The example prints them
    # with printenv, an applet the busybox image built from Debian's busybox-static lacks; its
    # script still runs: the log shows its headings.)
    run curl -sS --unix-socket "$MK_SOCK" -XPOST \
        'http://localhost/run/default/dependent-envars-demo/dependent-envars-demo?cmd=env'
    [ "$status" -eq 0 ]
    echo "$output" | grep -qxF 'SERVICE_ADDRESS=https://172.17.0.1:80'
    echo "$output" | grep -qxF 'UNCHANGED_REFERENCE=$(PROTOCOL)://172.17.0.1:80'
    echo "$output" | grep -qxF 'ESCAPED_REFERENCE=$(PROTOCOL)://172.17.0.1:80'
    wait_until 10 bash -c "curl -s $MK_URL/containerLogs/default/dependent-envars-demo/dependent-envars-demo | grep -qx ESCAPED_REFERENCE"
}

# One round: remove the file that wins each contested pod, then wait for the next file by name
# to take the pod over.
promote_round() {
    local winners f key
    winners=$(manifests | jq -r '.items[] | select(.state == "duplicate") | .error' |
        sed -E 's/.* is already defined in ([^;]+);.*/\1/' | sort -u)
    [ -n "$winners" ] || return 1
    : >"$CONF/round.tsv"
    for f in $winners; do
        for key in $(manifests | jq -r --arg f "$f" '.items[] | select(.file == $f) | .pods[]'); do
            printf '%s\t%s\n' "$key" "$(pod_uid "${key#*/}" "${key%%/*}")" >>"$CONF/round.tsv"
        done
        rm "$f"
    done
}

# Every pod of the round is defined by a file that is now ok, and is a new pod (new uid).
round_taken_over() {
    local key uid now
    manifests >"$CONF/now.json"
    while IFS=$'\t' read -r key uid; do
        jq -e --arg k "$key" '[.items[] | select(.state == "ok" and (.pods | index($k) != null))] | length == 1' \
            "$CONF/now.json" >/dev/null || return 1
        now=$(pod_uid "${key#*/}" "${key%%/*}")
        [ -n "$now" ] && [ "$now" != null ] && [ "$now" != "$uid" ] || return 1
    done <"$CONF/round.tsv"
}

@test "a duplicate takes its pod over when the file that won is removed" {
    local rounds=0 key f n total=0
    while manifests | jq -e '[.items[] | select(.state == "duplicate")] | length > 0' >/dev/null; do
        rounds=$((rounds + 1))
        [ "$rounds" -le 12 ]
        promote_round
        wait_until 60 round_taken_over || {
            echo "round $rounds: pods not taken over:" >&2
            cat "$CONF/round.tsv" >&2
            manifests | jq -r '.items[] | select(.state != "error") | "\(.state) \(.file) \(.pods)"' >&2
            return 1
        }
        wait_until 60 all_pods_sane || {
            insane_pods >&2
            return 1
        }
        while IFS=$'\t' read -r key _; do
            f=$(manifests | jq -r --arg k "$key" '.items[] | select(.state == "ok" and (.pods | index($k) != null)) | .file')
            record_pods_of "${f##*/}"
            n=$(check_local_image_ctrs "${key%%/*}" "${key#*/}")
            total=$((total + n))
        done <"$CONF/round.tsv"
    done
    [ "$rounds" -ge 1 ]
    echo "$total" >>"$CONF/local-ctrs"
    [ "$total" -ge 5 ]
    # every file the corpus has was accepted or rejected in the end
    run jq -r '.items[] | select(.state == "duplicate") | .file' "$CONF/manifests.json"
    for f in "${lines[@]}"; do
        grep -qF "${f##*/}" "$CONF/outcomes.tsv"
    done
}

@test "the agent is alive and no sanitizer report was written" {
    kill -0 "$MK_AGENT_PID"
    [ "$(api /healthz)" = ok ]
    run sanitizer_reports "$MK_ROOT/agent.log" "$MK_ROOT"/run/mini-kubelet/pods/*/shim.log
    [ -z "$output" ]
}

@test "removing every manifest removes every pod and leaves nothing behind" {
    local shims uids p
    shims=$(cat "$MK_ROOT"/run/mini-kubelet/pods/*/shim.pid 2>/dev/null)
    uids=$(api /api/v1/pods | jq -r '.items[].metadata.uid')
    [ -n "$shims" ]
    # keep the shims' own logs for the sanitizer check below: they go with the pods
    for p in "$MK_ROOT"/run/mini-kubelet/pods/*/shim.log; do cp "$p" "$CONF/shim-${p//\//_}"; done
    find "$MK_MANIFESTS" -maxdepth 1 -type f -name '*.yaml' -delete
    # one grace period (30 s, the default) for a container that ignores SIGTERM, then SIGKILL
    wait_until 90 bash -c "[ \"\$(curl -s $MK_URL/api/v1/pods | jq '.items | length')\" = 0 ]" || {
        api /api/v1/pods | jq -r "$JQ_SANE"' .items[] | describe' >&2
        return 1
    }
    wait_until 10 bash -c "[ \"\$(curl -s $MK_URL/manifests | jq '.items | length')\" = 0 ]"
    for p in $shims; do wait_until 10 bash -c "! kill -0 $p" 2>/dev/null; done
    wait_until 10 no_leftovers || {
        root_leftovers >&2
        return 1
    }
    for p in $uids; do
        [ ! -e "$MK_ROOT/run/mini-kubelet/pods/$p" ]
        [ ! -e "$MK_ROOT/var/lib/mini-kubelet/pods/$p" ]
    done
    [ -z "$(ls -A "$MK_ROOT/run/mini-kubelet/pods" 2>/dev/null)" ]
    kill -0 "$MK_AGENT_PID"
    run sanitizer_reports "$MK_ROOT/agent.log" "$CONF"/shim-*
    [ -z "$output" ]
}

agent_gone() { [ ! -e "/proc/$MK_AGENT_PID" ] || grep -q '^State:.*Z' "/proc/$MK_AGENT_PID/status"; }

@test "the agent exits on SIGTERM without a sanitizer report, leaks included" {
    kill -TERM "$MK_AGENT_PID"
    wait_until 20 agent_gone
    run sanitizer_reports "$MK_ROOT/agent.log"
    [ -z "$output" ]
}

@test "summary" {
    local m=$CONF/manifests.json o=$CONF/outcomes.tsv
    local total accepted dup rejected unsup invalid pods started waiting
    total=$(n_files)
    accepted=$(jq '[.items[] | select(.state == "ok")] | length' "$m")
    dup=$(jq '[.items[] | select(.state == "duplicate")] | length' "$m")
    rejected=$(jq '[.items[] | select(.state == "error")] | length' "$m")
    unsup=$(jq '[.items[] | select(.state == "error" and (.error | test("not supported")))] | length' "$m")
    invalid=$((rejected - unsup))
    pods=$(wc -l <"$o")
    started=$(awk -F'\t' '$3 == "started"' "$o" | wc -l)
    waiting=$(awk -F'\t' '$3 == "waiting-for-image"' "$o" | wc -l)
    {
        printf '# conformance corpus: %d files\n' "$total"
        printf '#   %-38s %4d files\n' "accepted at once" "$accepted"
        printf '#   %-38s %4d files\n' "accepted after their duplicate went" "$dup"
        printf '#   %-38s %4d pods\n' "pods run" "$pods"
        printf '#   %-38s %4d pods\n' "  started (Running/Succeeded/Failed)" "$started"
        printf '#   %-38s %4d pods\n' "  waiting for an image" "$waiting"
        printf '#   %-38s %4d\n' "busybox/nginx containers seen running" \
            "$(awk '{ s += $1 } END { print s + 0 }' "$CONF/local-ctrs" 2>/dev/null)"
        printf '#   %-38s %4d files\n' "rejected" "$rejected"
        printf '#   %-38s %4d files\n' "  not supported yet" "$unsup"
        printf '#   %-38s %4d files\n' "  invalid" "$invalid"
    } >&3
    # MK_CONFORMANCE_VERBOSE=1: every pod's outcome, and every rejection
    if [ -n "${MK_CONFORMANCE_VERBOSE:-}" ]; then
        awk -F'\t' '{ printf "#   %-18s %-52s %s\n", $3, $1, $4 }' "$o" >&3
        jq -r '.items[] | select(.state == "error") | "#   rejected \(.error)"' "$m" |
            sed "s|$MK_MANIFESTS/||" >&3
    fi
    [ $((accepted + dup + rejected)) = "$total" ]
    [ $((started + waiting)) = "$pods" ]
}
