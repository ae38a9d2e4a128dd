#!/usr/bin/env python3
"""Leave the machine's network as it was before the benchmark.

Usage: netclean.py snapshot FILE
       netclean.py clean FILE --subnet CIDR --bridge NAME [--netns NAME]

snapshot saves `iptables-save`, `ip6tables-save` and net.ipv4.ip_forward. clean, run after the
agents are down: deletes the scratch netns, veths still enslaved to the bench bridge and the
bridge itself; removes the iptables rules and chains that appeared since the snapshot and
belong to the benchmark (they name an address in CIDR, the bridge, or a scratch container id
"mkbench-...", or are portmap's shared CNI-HOSTPORT-* chains when the benchmark created them and
they hold no mapping); restores ip_forward; and reports what it removed and any difference from
the snapshot that is left.
"""
import argparse
import ipaddress
import json
import os
import re
import subprocess
import sys

HOSTPORT_CHAINS = ["CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"]
IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"


def save(cmd):
    r = subprocess.run([cmd], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else ""


def parse(text):
    """{table: {"chains": [names in order], "rules": [rule lines "-A CHAIN ..."]}}"""
    tables, cur = {}, None
    for line in text.splitlines():
        if line.startswith("*"):
            cur = tables.setdefault(line[1:], {"chains": [], "rules": []})
        elif cur is None or line.startswith("#") or line == "COMMIT":
            continue
        elif line.startswith(":"):
            cur["chains"].append(line[1:].split()[0])
        elif line.startswith("-A "):
            cur["rules"].append(line)
    return tables


def normal(text):
    """The lines of a save without comments and counters, for comparison."""
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        out.append(re.sub(r" \[\d+:\d+\]$", "", line))
    return out


def chain_of(rule):
    return rule.split()[1]


def target_of(rule):
    m = re.search(r" -[jg] (\S+)", rule)
    return m.group(1) if m else None


def is_bench_rule(rule, subnet, bridge):
    if re.search(rf"(^| )-[io] {re.escape(bridge)}( |$)", rule) or "mkbench-" in rule:
        return True
    for tok in re.findall(r"[0-9a-fA-F.:]+/\d+|\d+\.\d+\.\d+\.\d+(?::\d+)?", rule):
        try:
            net = ipaddress.ip_network(tok.split(":")[0] if "." in tok else tok, strict=False)
        except ValueError:
            continue
        if net.version == subnet.version and net.subnet_of(subnet):
            return True
    return False


COMMENT_ID = re.compile(r'id: \\"([^"\\]+)\\"')


def bench_changes(before, after, subnet, bridge):
    """Per table: (rules to delete, chains to delete) that the benchmark left."""
    plan = {}
    for table, cur in after.items():
        old = before.get(table, {"chains": [], "rules": []})
        new_rules = [r for r in cur["rules"] if r not in old["rules"]]
        new_chains = [c for c in cur["chains"] if c not in old["chains"]]
        drop = [r for r in new_rules if is_bench_rule(r, subnet, bridge)]
        # rules made for the same attachment (the plugins tag them with its container id)
        ids = {m.group(1) for r in drop for m in [COMMENT_ID.search(r)] if m}
        drop += [r for r in new_rules if r not in drop
                 and (m := COMMENT_ID.search(r)) and m.group(1) in ids]
        # new chains the benchmark's rules jump to, or holding only the benchmark's rules
        chains = []
        for c in new_chains:
            mine = [r for r in cur["rules"] if chain_of(r) == c]
            if c in HOSTPORT_CHAINS:
                continue
            if any(target_of(r) == c for r in drop) or (mine and all(r in drop for r in mine)):
                chains.append(c)
        # portmap's shared chains, created during the benchmark and holding no mapping now
        if all(c in new_chains for c in HOSTPORT_CHAINS):
            dnat = [r for r in cur["rules"] if chain_of(r) == "CNI-HOSTPORT-DNAT"
                    and r not in drop and target_of(r) not in chains]
            if not dnat:
                chains += HOSTPORT_CHAINS
        for r in cur["rules"]:
            if r not in drop and (target_of(r) in chains or chain_of(r) in chains):
                drop.append(r)
        if drop or chains:
            plan[table] = (drop, chains)
    return plan


def apply(cmd, plan):
    script = []
    for table, (rules, chains) in plan.items():
        script.append(f"*{table}")
        # jumps into the chains first, then their contents, then the chains
        for r in sorted(rules, key=lambda r: chain_of(r) in chains):
            script.append("-D " + r[3:])
        script += [f"-X {c}" for c in chains]
        script.append("COMMIT")
    r = subprocess.run([cmd, "--noflush"], input="\n".join(script) + "\n", text=True,
                       capture_output=True)
    if r.returncode != 0:
        print(f"  {cmd} failed: {r.stderr.strip()}")
        return False
    return True


def ip_quiet(*args):
    return subprocess.run(["ip", *args], capture_output=True, text=True)


def clean_links(bridge, netns):
    if netns and ip_quiet("netns", "delete", netns).returncode == 0:
        print(f"  scratch netns {netns}: deleted (a round was interrupted)")
    out = ip_quiet("-o", "link", "show", "master", bridge).stdout
    veths = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]
    for v in veths:
        ip_quiet("link", "delete", v)
    if veths:
        print(f"  {len(veths)} veth(s) still on {bridge} deleted: {', '.join(veths)}")
    if ip_quiet("link", "delete", bridge).returncode == 0:
        print(f"  bridge {bridge} (made by the bridge plugin): deleted")


def clean(a):
    with open(a.file) as f:
        snap = json.load(f)
    subnet = ipaddress.ip_network(a.subnet)
    clean_links(a.bridge, a.netns)
    for cmd, key in (("iptables", "v4"), ("ip6tables", "v6")):
        now = save(f"{cmd}-save")
        plan = bench_changes(parse(snap[key]), parse(now), subnet, a.bridge)
        if plan:
            n_rules = sum(len(p[0]) for p in plan.values())
            n_chains = sum(len(p[1]) for p in plan.values())
            ok = apply(f"{cmd}-restore", plan)
            print(f"  {cmd}: the benchmark left {n_rules} rule(s) and {n_chains} chain(s); "
                  + ("removed" if ok else "NOT removed"))
            for table, (rules, chains) in plan.items():
                for c in chains:
                    print(f"    {table}: chain {c}")
        left = sorted(set(normal(save(f"{cmd}-save"))) ^ set(normal(snap[key])))
        if not left:
            print(f"  {cmd}: same as before the benchmark")
        else:
            print(f"  {cmd}: {len(left)} line(s) differ from before the benchmark"
                  " (not the benchmark's: other users of this machine):")
            for line in left[:10]:
                print(f"    {line}")
    with open(IP_FORWARD) as f:
        fwd = f.read().strip()
    if fwd != snap["ip_forward"]:
        with open(IP_FORWARD, "w") as f:
            f.write(snap["ip_forward"] + "\n")
        print(f"  net.ipv4.ip_forward: {fwd} -> {snap['ip_forward']} (as before)")


def snapshot(a):
    with open(IP_FORWARD) as f:
        fwd = f.read().strip()
    snap = {"v4": save("iptables-save"), "v6": save("ip6tables-save"), "ip_forward": fwd}
    with open(a.file, "w") as f:
        json.dump(snap, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["snapshot", "clean"])
    ap.add_argument("file")
    ap.add_argument("--subnet", default="10.211.0.0/16")
    ap.add_argument("--bridge", default="mkbench0")
    ap.add_argument("--netns")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("netclean.py needs root")
    snapshot(a) if a.action == "snapshot" else clean(a)


if __name__ == "__main__":
    main()
