#!/usr/bin/env python3
"""
Lazy restore against a full restore (issue #14, target 3). Not a test: run as root, `python3 bench/lazy.py`
(bench/run.sh runs it too).

One python job holding BENCH_MIB MiB of heap (bench/heap.py) is dumped once by cedana (`--compression none`). Each of
BENCH_REPS rounds then restores that same checkpoint four ways, alternating, page cache dropped before each:
  raw `criu restore` (the floor of a full restore), raw `criu lazy-pages` + `criu restore --lazy-pages` (the floor
  of a lazy one), `cedana restore job`, `cedana restore job --lazy`;
and kills the restored process after each. Time-to-running is until the restore returns (the CLI's wall time for
cedana; the daemon's own `lazyPages.runningMs` is printed too); time-to-complete is until the last page is in
(lazy-pages exits; the job's `lazyPages.completeMs`). Medians, and the load average seen.
"""
import json, os, signal, statistics, subprocess, sys, time
import bench as b

TARGET_S = 0.15


def kill_and_reap(pid):
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def raw_restore(path, pid, lazy):
    w = f"{b.work}/w"
    subprocess.run(["rm", "-rf", w])
    os.makedirs(w)
    t0 = time.perf_counter()
    pages = None
    if lazy:
        r, wfd = os.pipe()
        pages = subprocess.Popen([b.CRIU, "lazy-pages", "-D", path, "-W", w, "-o", "lazy.log", "--status-fd", str(wfd)], pass_fds=[wfd])
        os.close(wfd)
        os.read(r, 1)
        os.close(r)
    flags = ["--lazy-pages"] if lazy else []
    subprocess.run([b.CRIU, "restore", "-D", path, "-W", w, "-o", "restore.log", "--restore-detached", *flags], check=True)
    running = time.perf_counter() - t0
    if pages:
        pages.wait()
    complete = time.perf_counter() - t0
    kill_and_reap(pid)
    return running, complete


def inspect(jid):
    return json.loads(b.cli("job", "inspect", jid, "--json")[0])


def cedana_restore(pid, lazy):
    out, running = b.cli("restore", "job", "heap", *(["--lazy"] if lazy else []))
    daemon_running = complete = None
    if lazy:
        while (lp := inspect("heap")["details"].get("lazyPages", {})).get("state") == "filling":
            time.sleep(0.01)
        if lp.get("state") != "complete":
            sys.exit(f"lazy restore did not complete: {lp}")
        daemon_running, complete = lp["runningMs"] / 1000, lp["completeMs"] / 1000
    else:
        complete = running
    b.cli("job", "kill", "heap", "--signal", "KILL")
    while os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().split(") ")[1][0] != "Z":
        time.sleep(0.01)
    while os.path.exists(f"/proc/{pid}"):
        time.sleep(0.01)
    return running, complete, daemon_running


def run(daemon):
    log = f"{b.work}/heap.log"
    out, _ = b.cli("run", "process", "--jid", "heap", "--log", log, "--", sys.executable, b.HEAP, str(b.MIB))
    pid = int(out.split()[-1])
    while "ready" not in open(log).read():
        time.sleep(0.5)
    print(f"job PID {pid}: {b.rss_mib(pid):.0f} MiB resident; {b.REPS} rounds", flush=True)
    path = b.cli("dump", "job", "heap", "--compression", "none")[0].split()[-1]
    while os.path.exists(f"/proc/{pid}"):
        time.sleep(0.01)
    res = {}
    loads = []
    for r in range(b.REPS):
        for name, fn in [("raw_full", lambda: raw_restore(path, pid, False)), ("raw_lazy", lambda: raw_restore(path, pid, True)),
                         ("cedana_full", lambda: cedana_restore(pid, False)), ("cedana_lazy", lambda: cedana_restore(pid, True))]:
            b.drop_caches()
            for k, v in zip(("running", "complete", "daemon_running"), fn()):
                if v is not None:
                    res.setdefault(f"{name}_{k}", []).append(v)
        loads.append(os.getloadavg()[0])
        print(f"round {r + 1}/{b.REPS} done", flush=True)
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"\nlazy restore of {b.MIB} MiB heap, medians of {b.REPS} (load average 1 min: {min(loads):.1f}–{max(loads):.1f})")
    print(f"{'way':<14}{'running (s)':>12}{'complete (s)':>14}")
    for name in ("raw_full", "raw_lazy", "cedana_full", "cedana_lazy"):
        print(f"{name:<14}{med[name + '_running']:12.3f}{med[name + '_complete']:14.3f}")
    print(f"cedana --lazy, daemon's time to running: {med['cedana_lazy_daemon_running']:.3f} s")
    print(f"target 3: lazy restore running ≤ {TARGET_S} s: CLI {med['cedana_lazy_running']:.3f} s, daemon "
          f"{med['cedana_lazy_daemon_running']:.3f} s; floor (raw lazy) {med['raw_lazy_running']:.3f} s, "
          f"ratio {med['cedana_lazy_running'] / med['raw_lazy_running']:.2f}; vs full cedana restore "
          f"{med['cedana_lazy_running'] / med['cedana_full_running']:.2f}")
    json.dump({"medians": med, "samples": res, "load": loads}, open(os.path.join(b.ROOT, "bench", "lazy-results.json"), "w"), indent=1)


if __name__ == "__main__":
    b.run = run
    b.main()
