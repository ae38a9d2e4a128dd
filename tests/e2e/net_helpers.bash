# Helpers for the pod-network tests. Each test gets its own bridge (mkn<6 hex>) and subnet
# (10.<a>.<b>.0/<len>), its own CNI conf, cache and lease dirs under its private root, and a
# snapshot of the host's links and iptables rules taken before anything ran. Teardown stops the
# agent and runs `mini-kubelet down` (mk_teardown), fails the test if that left any of the
# test's veths, rules or chains, then removes the bridge, any test network namespace and
# whatever iptables rule or chain is still there, and checks that the host looks as before.
#
# Other agents (and other people's tests) may use CNI on this host at the same time, so the
# before/after comparison keeps only what is provably this test's (see net_added): rules that
# name its pods, subnet or bridge, the chains the plugins name after its pods, and links on
# its bridge.

load helpers

# ---- setup and teardown ----

# net_setup [PREFIX_LEN]: private root, bridge name, subnet (default /24; see net_use_prefix),
# snapshot. Sets NET_BR, NET_CIDR,
# NET_PFX ("10.a.b."), NET_GW, NET_CONF, NET_CACHE, NET_LEASES, NET_PINS and MK_NET_FLAGS.
net_setup() {
    mk_root
    NET_STATE=$BATS_TEST_TMPDIR/net # outlives the root, which mk_teardown removes
    mkdir -p "$NET_STATE"
    : >"$NET_STATE/uids"
    : >"$NET_STATE/pids"
    : >"$NET_STATE/netns"
    NET_BR=mkn$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
    net_pick_subnet
    NET_CIDR=${NET_PFX}0/${1:-24}
    NET_GW=${NET_PFX}1
    NET_CONF=$MK_ROOT/etc/cni/net.d
    NET_CACHE=$MK_ROOT/var/lib/cni
    NET_LEASES=$NET_CACHE/networks/mini-kubelet
    NET_PINS=$MK_ROOT/run/mini-kubelet/netns
    net_snapshot >"$NET_STATE/before"
    MK_NET_FLAGS="--network=cni --cni-bridge $NET_BR --pod-cidr $NET_CIDR"
    export NET_STATE NET_BR NET_PFX NET_CIDR NET_GW NET_CONF NET_CACHE NET_LEASES NET_PINS
    export MK_NET_FLAGS
}

# Use a smaller subnet (same block) for this test; call before agent_start.
net_use_prefix() { # net_use_prefix LEN
    NET_CIDR=${NET_PFX}0/$1
    MK_NET_FLAGS="--network=cni --cni-bridge $NET_BR --pod-cidr $NET_CIDR"
    export NET_CIDR MK_NET_FLAGS
}

# Pick an unused 10.a.b.0/24 block (not 10.88, not on any host address or route); sets NET_PFX.
net_pick_subnet() {
    local a b i
    for i in $(seq 50); do
        a=$((100 + RANDOM % 150))
        b=$((RANDOM % 256))
        if ! ip -4 -o addr | grep -qF " 10.$a.$b." && ! ip -4 route | grep -q "^10\.$a\.$b\."; then
            NET_PFX=10.$a.$b.
            return 0
        fi
    done
    echo "no free 10.x.y.0/24 block found" >&2
    return 1
}

net_teardown() {
    [ -n "${NET_STATE:-}" ] || return 0
    local rc=0 p n
    # uids of every pod this test made, from the root before it goes away
    if [ -n "${MK_ROOT:-}" ]; then
        ls "$MK_ROOT/run/mini-kubelet/pods" "$NET_CACHE/results" "$NET_PINS" 2>/dev/null |
            grep -oE '[0-9a-f]{32}' >>"$NET_STATE/uids" || true
        cat "$NET_LEASES"/[0-9]* 2>/dev/null | grep -oE '[0-9a-f]{32}' >>"$NET_STATE/uids" || true
    fi
    mk_teardown || rc=1
    while read -r p; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done <"$NET_STATE/pids"
    while read -r n; do
        ip link del "${n}h" 2>/dev/null
        ip netns del "$n" 2>/dev/null
    done <"$NET_STATE/netns"
    # the agent's own teardown (`down`) must have removed every attachment
    local left
    left=$(net_leaks)
    if [ -n "$left" ]; then
        echo "left on the host by the agent after down:" >&2
        echo "$left" >&2
        rc=1
    fi
    for n in $(ip -o link show master "$NET_BR" 2>/dev/null | awk -F': ' '{print $2}'); do
        ip link del "${n%@*}" 2>/dev/null || true
    done
    ip link del "$NET_BR" 2>/dev/null || true
    net_iptables_cleanup
    left=$(net_added "$NET_STATE/before" <(net_snapshot))
    if [ -n "$left" ]; then
        echo "left on the host after the test:" >&2
        echo "$left" >&2
        rc=1
    fi
    NET_STATE=
    return $rc
}

# ---- the host's view ----

# A dump taken while others change the tables or links can be inconsistent (the tool says so on
# stderr): take it again then.
consistent() { # consistent CMD...
    local i out err=$BATS_TEST_TMPDIR/dump.err
    for i in 1 2 3 4 5 6 7 8 9 10; do
        out=$("$@" 2>"$err") && [ ! -s "$err" ] && break
    done
    [ -z "$out" ] || printf '%s\n' "$out"
}
ipt_save() { consistent iptables-save; }

# One line per link ("link NAME") and per iptables line ("ipt TABLE LINE"), counters and
# comment lines dropped.
net_snapshot() {
    consistent ip -o link | awk -F': ' '{ sub(/@.*/, "", $2); print "link " $2 }'
    ipt_save | awk '/^#/ { next } /^\*/ { t = substr($0, 2) } { sub(/ \[[0-9]+:[0-9]+\]$/, ""); print "ipt " t " " $0 }'
}

# Lines of `after` that are not in `before` and that are this test's: they name one of its
# pods (CNI comment id), its subnet, its bridge, a chain the plugins name after one of its pods
# (CNI-<sha512(network name + id)>, CNI-DN-<...>), or they are links on its bridge or named
# after it.
net_added() { # net_added BEFORE AFTER
    local added
    added=$(comm -13 <(sort -u "$1") <(sort -u "$2"))
    [ -n "$added" ] || return 0
    local uids u h mine l name master
    uids=$(sort -u "$NET_STATE/uids")
    mine=("${NET_PFX}" "$NET_BR")
    for u in $uids; do
        h=$(printf '%s' "mini-kubelet$u" | sha512sum)
        mine+=("id: \\\"$u\\\"" "CNI-${h:0:24}" "CNI-DN-${h:0:21}")
    done
    while IFS= read -r l; do
        case $l in
        "link "*)
            name=${l#link }
            master=$(ip -o link show dev "$name" 2>/dev/null | grep -oE ' master [^ ]+' | awk '{print $2}')
            [ "$master" = "$NET_BR" ] || [[ $name == *"${NET_BR#mkn}"* ]] ||
                grep -qxF "$name" "$NET_STATE/veths" 2>/dev/null || continue
            ;;
        ipt*)
            local hit=
            for u in "${mine[@]}"; do
                [[ $l == *"$u"* ]] && { hit=1; break; }
            done
            [ -n "$hit" ] || continue
            ;;
        esac
        echo "$l"
    done <<<"$added"
}

# What this test's pods left on the host since setup, the test's bridge itself excepted (CNI
# never deletes a bridge).
net_leaks() {
    net_added "$NET_STATE/before" <(net_snapshot) | grep -vx "link $NET_BR" || true
}

# Delete the iptables rules and chains this test left (what net_leaks reports), and portmap's
# shared chains when they were made during the test and nothing else uses them now.
net_iptables_cleanup() {
    local l t rest chains
    local left
    left=$(net_added "$NET_STATE/before" <(net_snapshot) | grep '^ipt ')
    while IFS= read -r l; do
        [[ $l =~ ^ipt\ ([a-z]+)\ -A\ (.*)$ ]] || continue
        t=${BASH_REMATCH[1]}
        rest=${BASH_REMATCH[2]}
        eval "iptables -w -t $t -D $rest" 2>/dev/null || true
    done <<<"$left"
    chains=$(echo "$left" | sed -nE 's/^ipt ([a-z]+) :([^ ]+) .*/\1 \2/p')
    while read -r t l; do
        [ -n "$l" ] || continue
        iptables -w -t "$t" -F "$l" 2>/dev/null || true
        iptables -w -t "$t" -X "$l" 2>/dev/null || true
    done <<<"$chains"
    if ! grep -q '^ipt nat :CNI-HOSTPORT-DNAT ' "$NET_STATE/before" &&
        [ "$(iptables -w -t nat -S CNI-HOSTPORT-DNAT 2>/dev/null | grep -c '^-A')" = 0 ]; then
        iptables -w -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT 2>/dev/null
        iptables -w -t nat -D OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT 2>/dev/null
        iptables -w -t nat -D POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" \
            -j CNI-HOSTPORT-MASQ 2>/dev/null
        for l in CNI-HOSTPORT-DNAT CNI-HOSTPORT-MASQ CNI-HOSTPORT-SETMARK; do
            iptables -w -t nat -F "$l" 2>/dev/null
            iptables -w -t nat -X "$l" 2>/dev/null
        done
    fi
    return 0
}

# The host's own IPv4 address: the first global one not on a bridge or a veth.
net_host_addr() {
    local _n dev _f addr _r
    while read -r _n dev _f addr _r; do
        [ -e "/sys/class/net/$dev/bridge" ] && continue
        case $dev in veth* | mkn*) continue ;; esac
        echo "${addr%/*}"
        return 0
    done < <(ip -4 -o addr show scope global)
    return 1
}

# ---- pods ----

# Record a pod's uid as this test's (for the comparison and the cleanup) and print it.
net_uid() { # net_uid POD
    local u
    u=$(pod_uid "$1")
    [[ $u =~ ^[0-9a-f]{32}$ ]] || return 1
    echo "$u" >>"$NET_STATE/uids"
    echo "$u"
}

pod_ip() { pod_json "$1" | jq -r '.status.podIP // empty'; }
pod_cond() { pod_json "$1" | jq -r --arg t "$2" '.status.conditions[]? | select(.type==$t) | .status'; }
net_ready() { [ "$(pod_cond "$1" PodReadyToStartContainers)" = True ] && [ -n "$(pod_ip "$1")" ]; }

# The host side veth of a pod's attachment, from its CNI cache file (and remembered as this
# test's).
net_host_veth() { # net_host_veth UID
    local v
    v=$(jq -r '.result.interfaces[] | select(.sandbox == null or .sandbox == "") | .name' \
        "$NET_CACHE/results/mini-kubelet-$1-eth0" | grep -vx "$NET_BR")
    [ -n "$v" ] || return 1
    echo "$v" >>"$NET_STATE/veths"
    echo "$v"
}
veths_on_bridge() { consistent ip -o link show master "$NET_BR" | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'; }
lease_files() { ls "$NET_LEASES" 2>/dev/null | grep -E '^[0-9a-f.:]+$' || true; } # not lock, last_reserved_ip.0
result_files() { ls "$NET_CACHE/results" 2>/dev/null || true; }
pin_files() { ls "$NET_PINS" 2>/dev/null || true; }
# iptables lines naming a pod (its CNI comment id)
ipt_rules_of() { ipt_save | grep -F "id: \\\"$1\\\"" || true; }

# Everything the network of pod UID (host veth VETH) could leave: prints what is left.
net_pod_leftovers() { # net_pod_leftovers UID VETH
    [ -n "$2" ] && ip link show "$2" >/dev/null 2>&1 && echo "veth $2"
    ipt_rules_of "$1" | sed 's/^/iptables /'
    [ -e "$NET_CACHE/results/mini-kubelet-$1-eth0" ] && echo "cache file of $1"
    [ -e "$NET_PINS/$1" ] && echo "netns pin of $1"
    grep -lsF "$1" "$NET_LEASES"/* | sed 's/^/lease /'
    return 0
}
net_pod_gone() { [ -z "$(net_pod_leftovers "$@")" ]; }

# Run a command in a container through the exec API (words joined with '+'); prints its output
# and returns its exit code.
pod_exec() { # pod_exec POD CTR WORD...
    local pod=$1 ctr=$2 q code
    shift 2
    q=$(printf '%s+' "$@")
    curl -sS -D "$BATS_TEST_TMPDIR/exec.h" --unix-socket "$MK_SOCK" -XPOST \
        "http://localhost/run/default/$pod/$ctr?cmd=${q%+}"
    code=$(grep -i '^X-Exit-Code:' "$BATS_TEST_TMPDIR/exec.h" | tr -dc 0-9)
    return "${code:-255}"
}

# ---- events ----

# has_event POD REASON TEXT: an event about POD with that reason whose message contains TEXT.
has_event() {
    api "/api/v1/namespaces/default/events" |
        jq -e --arg p "$1" --arg r "$2" --arg s "$3" \
            '.kind == "EventList" and ([.items[] | select(.involvedObject.name == $p and
              .reason == $r and ((.message // "") | contains($s)))] | length > 0)' >/dev/null
}

# ---- helpers run by the tests ----

# Serve DIR over HTTP on ADDR:PORT, in network namespace NS ("" for the host's); logs to LOG.
net_http_server() { # net_http_server NS ADDR PORT DIR LOG
    if [ -n "$1" ]; then
        ip netns exec "$1" /usr/bin/python3 -m http.server --bind "$2" --directory "$4" "$3" \
            >"$5" 2>&1 &
    else
        /usr/bin/python3 -m http.server --bind "$2" --directory "$4" "$3" >"$5" 2>&1 &
    fi
    echo $! >>"$NET_STATE/pids"
}

# A network namespace standing for a network beyond the host, joined to it by a veth pair on
# its own /30: the host side gets <pfx>1, the far side <pfx>2. Sets NET_OUT (the netns name)
# and NET_OUT_ADDR / NET_OUT_GW.
net_outside() {
    local save=$NET_PFX
    net_pick_subnet
    local pfx=$NET_PFX
    NET_PFX=$save
    NET_OUT=mkno${NET_BR#mkn}
    NET_OUT_GW=${pfx}1
    NET_OUT_ADDR=${pfx}2
    ip netns add "$NET_OUT"
    echo "$NET_OUT" >>"$NET_STATE/netns"
    ip link add "${NET_OUT}h" type veth peer name "${NET_OUT}p"
    ip link set "${NET_OUT}p" netns "$NET_OUT"
    ip addr add "$NET_OUT_GW/30" dev "${NET_OUT}h"
    ip link set "${NET_OUT}h" up
    ip -n "$NET_OUT" addr add "$NET_OUT_ADDR/30" dev "${NET_OUT}p"
    ip -n "$NET_OUT" link set "${NET_OUT}p" up
    ip -n "$NET_OUT" link set lo up
}
