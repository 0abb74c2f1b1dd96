#!/usr/bin/env python3
"""
cedana-ts checkpoint benchmark (issue #7). Not a test: run `bash bench/run.sh` as root on a quiet machine.

One python job holding BENCH_MIB MiB of written, realistic heap (dicts, strings, floats — not zeros, not random
bytes) runs under a private daemon. In the same run, on the same process, each round does:
  raw `criu dump` + raw `criu restore` (the floor), then `cedana dump job` / `cedana restore job` with
  compression none, lz4, lz4 --streams 2, zstd, gzip, zlib, zstd --streams 2.
Medians of BENCH_REPS rounds and ratios are printed, and written as JSON to bench/results.json.
Also: the daemon's CPU time per GB captured, `cedana ps` with 10,000 jobs in the DB, and the daemon's idle RSS.
"""
import ctypes, json, os, shutil, signal, sqlite3, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, "core", "bin", "cedana")
MIB = int(os.environ.get("BENCH_MIB", "1024"))
REPS = int(os.environ.get("BENCH_REPS", "5"))
CRIU = shutil.which("criu") or "/usr/local/sbin/criu"
NODE = shutil.which("node")

work = tempfile.mkdtemp(prefix="cedana-bench-")
env = dict(os.environ,
           CEDANA_CONFIG_DIR=f"{work}/config", CEDANA_ADDRESS=f"{work}/cedana.sock", CEDANA_DB_PATH=f"{work}/cedana.db",
           CEDANA_CHECKPOINT_DIR=f"{work}/ckpt", CEDANA_PLUGINS_LIB_DIR=f"{work}/plugins", CEDANA_LOG_LEVEL="warn")
os.makedirs(f"{work}/ckpt")

HEAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "heap.py")

def cli(*args):
    t0 = time.perf_counter()
    r = subprocess.run([NODE, CLI, *args], env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"cedana {' '.join(args)} failed: {r.stderr}")
    return r.stdout, dt

def cpu_seconds(pid):
    # utime + stime of the daemon and its threads (the compressing workers), in seconds.
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

def timed(argv):
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, capture_output=True)
    return time.perf_counter() - t0
def verify_seconds(path):
    """Seconds the restore's checksum pass over the image directory `path` takes (core's own sumTree)."""
    code = ("const { sumTree } = require(process.argv[1]); const t = performance.now();"
            "sumTree(process.argv[2]).then(() => console.log((performance.now() - t) / 1000))")
    r = subprocess.run([NODE, "-e", code, os.path.join(ROOT, "core", "dist", "src", "archive", "checksums.js"), path],
                       capture_output=True, text=True, check=True)
    return float(r.stdout.strip())

def drop_caches():
    subprocess.run(["sync"])
    open("/proc/sys/vm/drop_caches", "w").write("3")

def main():
    # A child subreaper, as the daemon is: the tree `criu restore -d` brings back becomes our child, and we reap it
    # once a dump has killed it (this VM's PID 1 reaps nothing, and a zombie keeps the PID restore needs).
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    daemon = subprocess.Popen([NODE, CLI, "daemon", "start"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not os.path.exists(env["CEDANA_ADDRESS"]):
        time.sleep(0.05)
    time.sleep(2)
    try:
        run(daemon)
    finally:
        subprocess.run([NODE, CLI, "job", "kill", "--all", "--signal", "KILL"], env=env, capture_output=True)
        daemon.send_signal(signal.SIGTERM)
        daemon.wait()
        shutil.rmtree(work, ignore_errors=True)

def run(daemon):
    idle_rss = rss_mib(daemon.pid)
    script = HEAP
    log = f"{work}/heap.log"
    out, _ = cli("run", "process", "--jid", "heap", "--log", log, "--", sys.executable, script, str(MIB))
    pid = int(out.split()[-1])
    while "ready" not in open(log).read():
        time.sleep(0.5)
    rss = rss_mib(pid)
    print(f"job PID {pid}: {rss:.0f} MiB resident; daemon idle RSS {idle_rss:.1f} MiB; {REPS} rounds", flush=True)

    # The floor of every CLI command: Node starting the CLI, one gRPC round trip, the answer printed.
    cli_ms = statistics.median(sorted(cli("ps")[1] for _ in range(7))) * 1000
    print(f"a CLI command that does nothing (cedana ps, one job): {cli_ms:.0f} ms", flush=True)
    help_ms = statistics.median(sorted(cli("--help")[1] for _ in range(7))) * 1000
    print(f"cedana --help (no daemon call): {help_ms:.0f} ms", flush=True)

    modes = [("none", 0), ("lz4", 0), ("lz4", 2), ("zstd", 0), ("zstd", 2), ("gzip", 0), ("zlib", 0)]
    res = {"raw_dump": [], "raw_restore": []}
    for r in range(REPS):
        d = f"{work}/raw-{r}"
        os.makedirs(d)
        drop_caches()
        t0 = time.perf_counter()
        subprocess.run([CRIU, "dump", "-t", str(pid), "-D", d, "-o", "dump.log", "-v4"], check=True)
        res["raw_dump"].append(time.perf_counter() - t0)
        raw_bytes = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        # The dumped process was the daemon's child: its PID is free for the restore once the daemon has reaped it.
        while os.path.exists(f"/proc/{pid}"):
            time.sleep(0.01)
        drop_caches()
        t0 = time.perf_counter()
        subprocess.run([CRIU, "restore", "-D", d, "-o", "restore.log", "-v4", "--restore-detached", "--pidfile", f"{d}/pid"], check=True)
        res["raw_restore"].append(time.perf_counter() - t0)
        shutil.rmtree(d)
        # CRIU's own restore gave the process a new start time, so the daemon would call the job stale (its PID
        # could be anyone's now): hand the process back to the daemon under the same job ID.
        cli("job", "delete", "heap")
        cli("manage", "process", str(pid), "--jid", "heap")
        for comp, streams in modes:
            key = f"{comp}x{streams}" if streams else comp
            drop_caches()
            c0 = cpu_seconds(daemon.pid)
            out, dt = cli("dump", "job", "heap", "--compression", comp, "--streams", str(streams), "--name", f"{key}-{r}")
            cpu = cpu_seconds(daemon.pid) - c0
            if comp == modes[0][0] and streams == modes[0][1]:
                # After the raw restore the job was our child: reap it, or its PID stays taken for the restore.
                os.waitpid(pid, 0)
            ck = json.loads(cli("job", "checkpoints", "heap", "--json")[0])[0]
            drop_caches()
            _, rt = cli("restore", "job", "heap")
            res.setdefault(f"dump_{key}", []).append(dt)
            res.setdefault(f"restore_{key}", []).append(rt)
            res.setdefault(f"cpu_{key}", []).append(cpu)
            res.setdefault(f"stored_{key}", []).append(ck["size"])
            res.setdefault(f"write_{key}", []).append(ck["stats"]["writeMs"] / 1000)
            res.setdefault(f"criu_{key}", []).append(ck["stats"]["criuMs"] / 1000)
            res.setdefault(f"freeze_{key}", []).append(ck["stats"]["freezeMs"] / 1000)
            res.setdefault("raw_bytes", []).append(ck["stats"]["rawBytes"])
            p = ck["path"]
            if os.path.isdir(p) and not streams:
                # The integrity check of a `none` checkpoint: one CRC-32 pass over its images, cold cache as the
                # restore's. Archives are summed while they are unpacked, inside the restore time above.
                drop_caches()
                res.setdefault(f"verify_{key}", []).append(verify_seconds(p))
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
        print(f"round {r + 1}/{REPS} done", flush=True)

    med = {k: statistics.median(v) for k, v in res.items()}
    gb = med["raw_bytes"] / 1e9
    print(f"\nimage size {med['raw_bytes'] / 2**20:.0f} MiB (median of {REPS}); times are medians in seconds\n")
    print(f"raw criu dump    {med['raw_dump']:.3f}   raw criu restore {med['raw_restore']:.3f}")
    print(f"{'mode':<10}{'dump':>8}{'×raw':>7}{'restore':>9}{'×raw':>7}{'bytes %':>9}{'CPU-s/GB':>10}{'MB/s (write)':>14}")
    for comp, streams in modes:
        k = f"{comp}x{streams}" if streams else comp
        print(f"{k:<10}{med['dump_' + k]:8.3f}{med['dump_' + k] / med['raw_dump']:7.2f}{med['restore_' + k]:9.3f}"
              f"{med['restore_' + k] / med['raw_restore']:7.2f}{100 * med['stored_' + k] / med['raw_bytes']:9.1f}"
              f"{med['cpu_' + k] / gb:10.2f}{med['raw_bytes'] / 1e6 / max(med['write_' + k], 1e-9):14.0f}")

    for k in [k[len("verify_"):] for k in med if k.startswith("verify_")]:
        print(f"verify {k}: {med['verify_' + k]:.3f} s for {med['raw_bytes'] / 2**20:.0f} MiB "
              f"({med['raw_bytes'] / 1e6 / max(med['verify_' + k], 1e-9):.0f} MB/s; "
              f"{100 * med['verify_' + k] / med['restore_' + k]:.0f} % of its restore); archives: summed while unpacked")

    # `cedana ps` with 10,000 jobs: rows added to the same DB (dead PIDs: every one is looked up in /proc).
    db = sqlite3.connect(env["CEDANA_DB_PATH"])
    host = db.execute("select host from jobs limit 1").fetchone()[0]
    db.executemany("insert into jobs (jid, type, pid, cmdline, log, details, host, gpu, created_at) values (?,?,?,?,?,?,?,?,?)",
                   [(f"bulk-{i}", "process", 4_000_000 + i, '["sleep","1"]', "", "{}", host, 0, int(time.time() * 1000)) for i in range(9_999)])
    db.commit()
    db.close()
    ps = sorted(cli("ps")[1] for _ in range(7))
    ps_ms = statistics.median(ps) * 1000
    node0 = time.perf_counter(); subprocess.run([NODE, "-e", "0"]); node_ms = (time.perf_counter() - node0) * 1000
    print(f"\ncedana ps, 10,000 jobs: {ps_ms:.0f} ms (median of 7; a bare `node -e 0` takes {node_ms:.0f} ms)")
    busy_rss = rss_mib(daemon.pid)
    print(f"daemon RSS: idle {idle_rss:.1f} MiB, after the benchmark {busy_rss:.1f} MiB")
    # Issue #14's targets, each against its floor measured in this run.
    node_med = statistics.median(sorted(timed([NODE, "-e", "0"]) for _ in range(7))) * 1000
    print(f"\ntargets (load average {os.getloadavg()[0]:.1f}):")
    print(f"1. CLI start ≤ 1.5× node -e 0: cedana --help {help_ms:.0f} ms, floor {node_med:.0f} ms, ratio {help_ms / node_med:.2f}")
    print(f"1. CLI start ≤ 1.5× node -e 0: cedana ps (one job) {cli_ms:.0f} ms, floor {node_med:.0f} ms, ratio {cli_ms / node_med:.2f}")
    for op in ("dump", "restore"):
        print(f"2. {op} none ≤ 1.10× raw CRIU: {med[op + '_none']:.3f} s, floor {med['raw_' + op]:.3f} s, ratio {med[op + '_none'] / med['raw_' + op]:.2f}")
    print(f"4. daemon RSS after lz4 ≤ 150 MB: {busy_rss * 1.048576:.0f} MB; idle ≤ 80 MB: {idle_rss * 1.048576:.0f} MB")
    print(f"5. ps with 10,000 jobs ≤ 200 ms: {ps_ms:.0f} ms")
    med.update(ps_ms=ps_ms, node_ms=node_ms, cli_ms=cli_ms, help_ms=help_ms, idle_rss_mib=idle_rss, busy_rss_mib=busy_rss, mib=MIB, reps=REPS, load=os.getloadavg())
    json.dump({"medians": med, "samples": res}, open(os.path.join(ROOT, "bench", "results.json"), "w"), indent=1)

if __name__ == "__main__":
    main()
