#!/usr/bin/env python3
"""Pod start latency and density figures for mini-kubelet. Prints figures; asserts nothing.

Usage: podstart.py AGENT_BIN ROOT_DIR IMAGES_DIR
"""
import http.client
import json
import os
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


def running(conn, name):
    st, body = get(conn, f"/api/v1/namespaces/default/pods/{name}")
    if st != 200:
        return False
    cs = json.loads(body).get("status", {}).get("containerStatuses") or []
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


def clear(mdir, conn, names, timeout=120):
    for n in names:
        try:
            os.unlink(os.path.join(mdir, f"{n}.yaml"))
        except FileNotFoundError:
            pass
    wait(lambda: all(get(conn, f"/api/v1/namespaces/default/pods/{n}")[0] == 404 for n in names),
         timeout)


def main():
    agent_bin, root, images = sys.argv[1:4]
    mdir = os.path.join(root, "manifests")
    os.makedirs(mdir, exist_ok=True)
    imp = os.path.join(root, "var/lib/mini-kubelet/images/import")
    os.makedirs(imp, exist_ok=True)
    for f in os.listdir(images):
        if f.endswith(".tar"):
            subprocess.run(["cp", os.path.join(images, f), imp], check=True)
    sock = os.path.join(root, "run/mini-kubelet/api.sock")
    log = open(os.path.join(root, "agent.log"), "w")
    agent = subprocess.Popen([agent_bin, "--root-dir", root, "--manifest-dir", mdir,
                              "--listen", "", "--log-level", "warn"], stdout=log, stderr=log)
    try:
        if not wait(lambda: os.path.exists(sock), 30):
            sys.exit("agent did not start (see agent.log)")
        conn = UnixHTTP(sock)
        wait(lambda: get(conn, "/healthz")[0] == 200, 30)
        time.sleep(1)
        idle_rss = rss_kb(agent.pid)

        # 1. one pod at a time: manifest written -> first container running
        lat = []
        names = [f"seq{i}" for i in range(50)]
        for n in names:
            t0 = time.monotonic()
            write(mdir, n)
            if not wait(lambda: running(conn, n), 30):
                sys.exit(f"pod {n} did not start")
            lat.append((time.monotonic() - t0) * 1000)
        clear(mdir, conn, names)

        # 2. 100 pods at once -> all running
        names = [f"burst{i}" for i in range(100)]
        t0 = time.monotonic()
        for n in names:
            write(mdir, n)
        ok = wait(lambda: all(running(conn, n) for n in names), 300)
        burst = time.monotonic() - t0
        time.sleep(1)
        busy_rss = rss_kb(agent.pid)
        shims = shim_pids(root)
        shim_rss = [rss_kb(p) for p in shims]
        shim_pss = [pss_kb(p) for p in shims]
        t1 = time.monotonic()
        clear(mdir, conn, names, 300)
        teardown = time.monotonic() - t1

        print("mini-kubelet benchmark (busybox `sleep`, local image, no CNI)")
        print(f"  start latency, 1 pod at a time (n=50): p50 {statistics.median(lat):.1f} ms,"
              f" p99 {pct(lat, 99):.1f} ms, min {min(lat):.1f} ms, max {max(lat):.1f} ms")
        print(f"  100 pods at once -> all Running: {burst:.2f} s" + ("" if ok else " (INCOMPLETE)"))
        print(f"  100 pods deleted -> all gone: {teardown:.2f} s")
        print(f"  agent RSS idle: {idle_rss} kB; with 100 pods: {busy_rss} kB")
        if shim_rss:
            print(f"  shim RSS per pod: median {statistics.median(shim_rss):.0f} kB"
                  f" (PSS median {statistics.median(shim_pss):.0f} kB) over {len(shims)} shims")
    finally:
        agent.terminate()
        agent.wait(timeout=30)
        subprocess.run([agent_bin, "down", "--root-dir", root], stdout=log, stderr=log)


if __name__ == "__main__":
    main()
