#!/usr/bin/env python3
"""Pod start latency, teardown and density figures for mini-kubelet. Prints figures; asserts
nothing about speed.

Usage: podstart.py AGENT_BIN ROOT_DIR IMAGES_DIR [--network none|cni] [--bridge NAME]
                   [--pod-cidr CIDR] [--json FILE] [--seq N]

--network none: pods get loopback only. --network cni: the agent writes its default conflist
(bridge NAME, host-local IPAM from CIDR, portmap) into ROOT_DIR/etc/cni/net.d and keeps its CNI
cache under ROOT_DIR/var/lib/cni; teardown then also waits for that cache to empty. The agent
then logs at debug level, and its own timing of each plugin run is read from its log.
--json FILE writes the figures for bench/cniplugins.py.
"""
import argparse
import http.client
import ipaddress
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def get(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    return r.status, body


def pod(conn, name):
    st, body = get(conn, f"/api/v1/namespaces/default/pods/{name}")
    return json.loads(body) if st == 200 else None


def running(conn, name):
    p = pod(conn, name)
    if p is None:
        return False
    cs = p.get("status", {}).get("containerStatuses") or []
    return bool(cs) and all("running" in (c.get("state") or {}) for c in cs)


def manifest(name):
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n"
            f"  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n"
            f"    image: busybox\n    command: [\"sleep\", \"3600\"]\n")


def write(mdir, name):
    tmp = os.path.join(mdir, f".{name}.tmp")
    with open(tmp, "w") as f:
        f.write(manifest(name))
    os.rename(tmp, os.path.join(mdir, f"{name}.yaml"))


def rss_kb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.0005)
    return False


def pct(xs, p):
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


def shim_pids(root):
    out = []
    base = os.path.join(root, "run/mini-kubelet/pods")
    for uid in os.listdir(base) if os.path.isdir(base) else []:
        try:
            with open(os.path.join(base, uid, "shim.pid")) as f:
                out.append(int(f.read().strip()))
        except (OSError, ValueError):
            pass
    return out


def listdir(d):
    try:
        return [f for f in os.listdir(d) if not f.startswith(".")]
    except FileNotFoundError:
        return []


def cni_cache_entries(root):
    return listdir(os.path.join(root, "var/lib/cni/results"))


def ipam_leases(root):
    """host-local's lease files (one per address, named by it) under the bench root."""
    out = []
    base = os.path.join(root, "var/lib/cni/networks")
    for net in listdir(base):
        for f in listdir(os.path.join(base, net)):
            try:
                ipaddress.ip_address(f)
                out.append(f)
            except ValueError:
                pass
    return out


def remove(mdir, names):
    for n in names:
        try:
            os.unlink(os.path.join(mdir, f"{n}.yaml"))
        except FileNotFoundError:
            pass


def gone(conn, names, root, cni):
    if any(get(conn, f"/api/v1/namespaces/default/pods/{n}")[0] != 404 for n in names):
        return False
    return not cni or not cni_cache_entries(root)


def clear(mdir, conn, names, root, cni, timeout=120):
    remove(mdir, names)
    return wait(lambda: gone(conn, names, root, cni), timeout)


def agent_args(a, mdir):
    args = [a.agent, "--root-dir", a.root, "--manifest-dir", mdir, "--listen", "",
            "--log-level", a.log_level or ("debug" if a.network == "cni" else "warn"),
            f"--network={a.network}"]
    if a.network == "cni":
        args += ["--cni-conf-dir", os.path.join(a.root, "etc/cni/net.d"),
                 "--cni-cache-dir", os.path.join(a.root, "var/lib/cni"),
                 "--cni-bridge", a.bridge, "--pod-cidr", a.pod_cidr]
    return args


def check_ips(conn, names, cidr):
    """How many of the pods carry a status.podIP inside cidr."""
    net = ipaddress.ip_network(cidr)
    ok = 0
    for n in names:
        ip = ((pod(conn, n) or {}).get("status") or {}).get("podIP")
        if ip and ipaddress.ip_address(ip) in net:
            ok += 1
    return ok


def measure(a, conn, mdir, agent_pid):
    cni = a.network == "cni"
    f = {"network": a.network, "idle_rss_kb": rss_kb(agent_pid)}

    # 1. one pod at a time: manifest written -> every container running
    lat = []
    names = [f"seq{i}" for i in range(a.seq)]
    for n in names:
        t0 = time.monotonic()
        write(mdir, n)
        if not wait(lambda: running(conn, n), 30):
            sys.exit(f"pod {n} did not start (see {a.root}/agent.log)")
        lat.append((time.monotonic() - t0) * 1000)
    if cni:
        f["seq_with_ip"] = check_ips(conn, names, a.pod_cidr)
        f["seq_uids"] = [((pod(conn, n) or {}).get("metadata") or {}).get("uid") for n in names]
    if not clear(mdir, conn, names, a.root, cni):
        sys.exit(f"the {len(names)} sequential pods were not all removed")
    f["start_ms"] = lat

    # 2. 100 pods at once -> all running
    names = [f"burst{i}" for i in range(100)]
    t0 = time.monotonic()
    for n in names:
        write(mdir, n)
    f["burst_complete"] = wait(lambda: all(running(conn, n) for n in names), 300)
    f["burst_s"] = time.monotonic() - t0
    if cni:
        f["burst_with_ip"] = check_ips(conn, names, a.pod_cidr)
        f["burst_uids"] = [((pod(conn, n) or {}).get("metadata") or {}).get("uid") for n in names]
        f["burst_cache"] = len(cni_cache_entries(a.root))
    time.sleep(1)
    f["busy_rss_kb"] = rss_kb(agent_pid)
    shims = shim_pids(a.root)
    f["shim_rss_kb"] = [rss_kb(p) for p in shims]
    f["shim_pss_kb"] = [pss_kb(p) for p in shims]

    # 3. 100 manifests removed -> all gone (and, with CNI, every cache entry gone)
    t1 = time.monotonic()
    f["teardown_complete"] = clear(mdir, conn, names, a.root, cni, 300)
    f["teardown_s"] = time.monotonic() - t1
    if cni:
        f["cache_left"] = len(cni_cache_entries(a.root))
        f["leases_left"] = len(ipam_leases(a.root))
    return f


PLUGIN_LINE = re.compile(r"CNI plugin (\S+) (ADD|DEL) for (\S+): done in ([0-9.]+) ms")


def agent_plugin_times(log_path, f):
    """Per pod, the agent's own timing of its plugin runs (its debug log): ADD chain of the
    sequential pods, DEL chain of the burst's pods."""
    chains = {}
    with open(log_path, errors="replace") as log:
        for line in log:
            m = PLUGIN_LINE.search(line)
            if m:
                key = (m.group(3), m.group(2))
                chains[key] = chains.get(key, 0.0) + float(m.group(4))
    f["agent_add_ms"] = [chains[(u, "ADD")] for u in f["seq_uids"] if (u, "ADD") in chains]
    f["agent_del_ms"] = [chains[(u, "DEL")] for u in f["burst_uids"] if (u, "DEL") in chains]


def report(f):
    lat = f["start_ms"]
    if f["network"] == "cni":
        print("mini-kubelet benchmark, --network=cni (bridge + host-local + portmap; busybox"
              " `sleep`, local image)")
    else:
        print("mini-kubelet benchmark, --network=none (loopback only; busybox `sleep`,"
              " local image)")
    print(f"  start latency, 1 pod at a time (n={len(lat)}): p50 {statistics.median(lat):.1f} ms,"
          f" p99 {pct(lat, 99):.1f} ms, min {min(lat):.1f} ms, max {max(lat):.1f} ms")
    if f["network"] == "cni":
        print(f"  pods Running with a status.podIP in the pod CIDR: {f['seq_with_ip']}/{len(lat)}"
              f" sequential, {f['burst_with_ip']}/100 burst; CNI cache entries with 100 pods:"
              f" {f['burst_cache']}")
    print(f"  100 pods at once -> all Running: {f['burst_s']:.2f} s"
          + ("" if f["burst_complete"] else " (INCOMPLETE)"))
    what = "all gone and the CNI cache empty" if f["network"] == "cni" else "all gone"
    print(f"  100 pods deleted -> {what}: {f['teardown_s']:.2f} s"
          + ("" if f["teardown_complete"] else " (INCOMPLETE)"))
    if f["network"] == "cni":
        print(f"  after teardown: {f['cache_left']} CNI cache entries, {f['leases_left']} IPAM"
              " leases left")
        add, dl = f["agent_add_ms"], f["agent_del_ms"]
        if add and dl:
            print(f"  plugins as timed by the agent (its debug log): ADD chain p50"
                  f" {statistics.median(add):.1f} ms (n={len(add)} sequential pods), DEL chain p50"
                  f" {statistics.median(dl):.1f} ms (n={len(dl)}, 100 at once)")
    print(f"  agent RSS idle: {f['idle_rss_kb']} kB; with 100 pods: {f['busy_rss_kb']} kB")
    if f["shim_rss_kb"]:
        print(f"  shim RSS per pod: median {statistics.median(f['shim_rss_kb']):.0f} kB"
              f" (PSS median {statistics.median(f['shim_pss_kb']):.0f} kB)"
              f" over {len(f['shim_rss_kb'])} shims")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("agent")
    p.add_argument("root")
    p.add_argument("images")
    p.add_argument("--network", choices=["none", "cni"], default="none")
    p.add_argument("--bridge", default="mkbench0")
    p.add_argument("--pod-cidr", default="10.211.0.0/16")
    p.add_argument("--json")
    p.add_argument("--seq", type=int, default=50)
    p.add_argument("--log-level", help="the agent's (default: debug with cni, else warn)")
    return p.parse_args()


def main():
    a = parse_args()
    mdir = os.path.join(a.root, "manifests")
    os.makedirs(mdir, exist_ok=True)
    imp = os.path.join(a.root, "var/lib/mini-kubelet/images/import")
    os.makedirs(imp, exist_ok=True)
    for name in os.listdir(a.images):
        if name.endswith(".tar"):
            subprocess.run(["cp", os.path.join(a.images, name), imp], check=True)
    sock = os.path.join(a.root, "run/mini-kubelet/api.sock")
    log = open(os.path.join(a.root, "agent.log"), "w")
    agent = subprocess.Popen(agent_args(a, mdir), stdout=log, stderr=log)
    try:
        if not wait(lambda: os.path.exists(sock) or agent.poll() is not None, 30) \
                or agent.poll() is not None:
            sys.exit(f"agent did not start (see {a.root}/agent.log)")
        conn = UnixHTTP(sock)
        wait(lambda: get(conn, "/healthz")[0] == 200, 30)
        time.sleep(1)
        f = measure(a, conn, mdir, agent.pid)
        if a.network == "cni":
            agent_plugin_times(os.path.join(a.root, "agent.log"), f)
        report(f)
        if a.json:
            with open(a.json, "w") as out:
                json.dump(f, out)
    finally:
        if agent.poll() is None:
            agent.terminate()
            try:
                agent.wait(timeout=30)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait()
        # the cache dir is named: `down` takes the default one from the default root otherwise
        subprocess.run([a.agent, "down", "--root-dir", a.root, "--cni-cache-dir",
                        os.path.join(a.root, "var/lib/cni")], stdout=log, stderr=log)


if __name__ == "__main__":
    try:
        main()
    except (KeyboardInterrupt, ConnectionError) as e:
        sys.exit(f"podstart: stopped ({type(e).__name__}: interrupted, or the agent went away)")
