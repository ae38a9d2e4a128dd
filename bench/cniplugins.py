#!/usr/bin/env python3
"""What the CNI plugins cost, measured outside the agent. Prints figures; asserts nothing.

Usage: cniplugins.py --conf CONFLIST --netns NAME [--bin-dir DIR] [--n N] [--host-port PORT]
                     [--none FILE --cni FILE]

For each of N rounds: `ip netns add NAME` (not timed), then the conflist's plugins run as a
runtime runs them: ADD in order (the CNI_* variables in the environment, the plugin's config
with cniVersion, name and the previous plugin's result as prevResult on stdin), then DEL in
reverse order (prevResult: the chain's result), then `ip netns del NAME` (not timed). The same
rounds are then repeated with one hostPort mapping (runtimeConfig.portMappings for the plugins
that declare the capability) when --host-port is given. Also timed: a plugin's start alone
(CNI_COMMAND=VERSION).

--none and --cni are the JSON figures of two podstart.py runs; with both, the share of the
networked start latency that the ADD chain explains is printed.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def p50(xs):
    return statistics.median(xs)


def plugin_conf(net, plugin, prev, port_maps):
    c = dict(plugin)
    c["cniVersion"] = net["cniVersion"]
    c["name"] = net["name"]
    c.pop("capabilities", None)
    if prev is not None:
        c["prevResult"] = prev
    if port_maps and (plugin.get("capabilities") or {}).get("portMappings"):
        c["runtimeConfig"] = {"portMappings": port_maps}
    return json.dumps(c, separators=(",", ":"))


class Chain:
    def __init__(self, net, bin_dir, netns):
        self.net = net
        self.bin_dir = bin_dir
        self.netns = netns

    def env(self, command, cid):
        return {
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": cid,
            "CNI_NETNS": f"/run/netns/{self.netns}",
            "CNI_IFNAME": "eth0",
            "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={cid};"
                        f"K8S_POD_INFRA_CONTAINER_ID={cid}",
            "CNI_PATH": self.bin_dir,
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        }

    def run(self, ptype, command, cid, stdin):
        """Run one plugin; return (seconds, parsed stdout or None)."""
        t0 = time.monotonic()
        r = subprocess.run([os.path.join(self.bin_dir, ptype)], input=stdin.encode(),
                           env=self.env(command, cid), capture_output=True, timeout=60)
        dt = time.monotonic() - t0
        if r.returncode != 0:
            raise RuntimeError(f"{ptype} {command}: exit {r.returncode}: "
                               f"{(r.stdout or r.stderr).decode(errors='replace').strip()}")
        out = r.stdout.decode().strip()
        return dt, (json.loads(out) if out else None)

    def add(self, cid, port_maps, ran, state):
        """ADD through the chain; returns (total s, per-plugin s). Every plugin started is
        appended to `ran` and the latest result kept in state["result"], so that a failure
        half-way can be undone."""
        per = []
        t0 = time.monotonic()
        for p in self.net["plugins"]:
            ran.append(p)
            dt, state["result"] = self.run(p["type"], "ADD", cid,
                                           plugin_conf(self.net, p, state["result"], port_maps))
            per.append(dt)
        return time.monotonic() - t0, per

    def delete(self, cid, plugins, result, port_maps):
        """DEL in reverse order; returns (total s, per-plugin s in chain order)."""
        per = []
        t0 = time.monotonic()
        for p in reversed(plugins):
            dt, _ = self.run(p["type"], "DEL", cid, plugin_conf(self.net, p, result, port_maps))
            per.insert(0, dt)
        return time.monotonic() - t0, per


def netns(cmd, name):
    subprocess.run(["ip", "netns", cmd, name], check=True)


def rounds(chain, n, port_maps, tag):
    """n ADD+DEL rounds, each in a fresh netns. Returns the timings and the first result."""
    adds, dels, add_per, del_per, first = [], [], [], [], None
    for i in range(n):
        cid = f"mkbench-{tag}-{os.getpid()}-{i}"
        netns("add", chain.netns)
        ran, state = [], {"result": None}
        try:
            t, per = chain.add(cid, port_maps, ran, state)
            adds.append(t)
            add_per.append(per)
            first = first or state["result"]
            t, per = chain.delete(cid, ran, state["result"], port_maps)
            ran.clear()
            dels.append(t)
            del_per.append(per)
        finally:
            if ran:  # undo a failed or interrupted round
                try:
                    chain.delete(cid, ran, state["result"], port_maps)
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    print(f"  undoing {cid}: {e}", file=sys.stderr)
            netns("delete", chain.netns)
    return adds, dels, add_per, del_per, first


def ms(x):
    return f"{x * 1000:.1f} ms"


def print_rounds(net, label, n, adds, dels, add_per, del_per):
    types = [p["type"] for p in net["plugins"]]
    print(f"  {label} (n={n}): ADD chain p50 {ms(p50(adds))} (max {ms(max(adds))}),"
          f" DEL chain p50 {ms(p50(dels))} (max {ms(max(dels))})")
    for k, t in enumerate(types):
        print(f"    {t}: ADD p50 {ms(p50([r[k] for r in add_per]))},"
              f" DEL p50 {ms(p50([r[k] for r in del_per]))}")


def share(none_file, cni_file, add_p50, del_p50):
    with open(none_file) as f:
        none = json.load(f)
    with open(cni_file) as f:
        cni = json.load(f)
    n50, c50 = p50(none["start_ms"]), p50(cni["start_ms"])
    extra = c50 - n50
    add = add_p50 * 1000
    print("Share of the networked start latency explained by the plugins")
    print(f"  start p50: --network=cni {c50:.1f} ms, --network=none {n50:.1f} ms:"
          f" networking adds {extra:.1f} ms")
    if extra > 0:
        print(f"  plugin ADD chain p50 {add:.1f} ms = {add / extra * 100:.0f}% of what networking"
              f" adds, {add / c50 * 100:.0f}% of the networked start p50")
    else:
        print(f"  plugin ADD chain p50 {add:.1f} ms ({add / c50 * 100:.0f}% of the networked"
              " start p50); networking added nothing measurable this run")
    inside = cni.get("agent_add_ms") or []
    if inside and extra > 0:
        a50 = p50(inside)
        print(f"  the same chain run by the agent (its own timing, sequential pods): p50 {a50:.1f} ms"
              f" = {a50 / extra * 100:.0f}% of what networking adds")
    print(f"  networked start p50 without the ADD chain: {c50 - add:.1f} ms"
          f" (target for the whole: p50 under 40 ms)")
    print(f"  teardown of 100 pods: --network=cni {cni['teardown_s']:.2f} s, --network=none"
          f" {none['teardown_s']:.2f} s; plugin DEL chain p50 {del_p50 * 1000:.1f} ms per pod")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conf", required=True)
    ap.add_argument("--netns", required=True)
    ap.add_argument("--bin-dir", default="/usr/lib/cni")
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--host-port", type=int)
    ap.add_argument("--none")
    ap.add_argument("--cni")
    a = ap.parse_args()
    with open(a.conf) as f:
        net = json.load(f)
    chain = Chain(net, a.bin_dir, a.netns)
    types = [p["type"] for p in net["plugins"]]
    print(f"CNI plugins alone ({' -> '.join(types)} from {a.bin_dir}, config {a.conf},"
          " a fresh netns per round)")

    starts = []
    for _ in range(a.n):
        dt, _ = chain.run(types[0], "VERSION", "version", json.dumps(
            {"cniVersion": net["cniVersion"]}))
        starts.append(dt)
    print(f"  one plugin's start alone ({types[0]} VERSION, n={a.n}): p50 {ms(p50(starts))}")

    adds, dels, add_per, del_per, first = rounds(chain, a.n, None, "plain")
    ips = [ip.get("address") for ip in (first or {}).get("ips", [])]
    print_rounds(net, "no hostPort, as the benchmark's pods", a.n, adds, dels, add_per, del_per)
    print(f"    (the first round's result gave the pod {', '.join(ips) or 'no address'})")
    if a.host_port:
        pm = [{"hostPort": a.host_port, "containerPort": 80, "protocol": "tcp"}]
        label = f"one hostPort ({a.host_port} -> 80/tcp)"
        try:
            r = rounds(chain, a.n, pm, "hostport")
            print_rounds(net, label, a.n, *r[:4])
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            # portmap's shared chains may be changed by other runtimes at the same time
            print(f"  {label}: a round failed, no figure: {e}")
    if a.none and a.cni:
        share(a.none, a.cni, p50(adds), p50(dels))


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        sys.exit(f"CNI plugin timing failed: {e}")
