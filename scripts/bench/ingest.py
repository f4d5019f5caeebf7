#!/usr/bin/env python3
"""SMTP ingest into the queue, ours next to Postfix in one run.

For each suite a private instance (run as root) listens on 127.0.0.1 with
smtpd, cleanup, qmgr, trivial-rewrite and the discard agent; smtp-source
sends N messages of SIZE bytes over C sessions. Timed: from start until
the log shows N deliveries by discard (every message fully queued, fsynced
and removed), and until smtp-source exits. Runs alternate between suites;
the MTA's CPU is taken from /proc for the master and its children.

    python3 scripts/bench/ingest.py [--n 2000] [--conc 1,20,50] [--size 1024] [--runs 3]

Needs Debian's Postfix (for smtp-source and the comparison); ours comes
from target/release (cargo build --release first).
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUITES = {
    "postfix": {"sbin": "/usr/sbin", "libexec": "/usr/lib/postfix/sbin"},
    "ours": {"sbin": os.path.join(TOP, "target/release"), "libexec": os.path.join(TOP, "target/release")},
}
CLK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def make(base, name, suite):
    root = os.path.join(base, name)
    etc = os.path.join(root, "etc")
    os.makedirs(etc)
    os.makedirs(os.path.join(root, "log"))
    os.makedirs(os.path.join(root, "spool"))
    port = free_port()
    with open(os.path.join(etc, "main.cf"), "w") as f:
        f.write(f"""compatibility_level = 3.7
queue_directory = {root}/spool
data_directory = {root}/data
command_directory = {suite['sbin']}
daemon_directory = {suite['libexec']}
maillog_file = {root}/log/maillog
maillog_file_prefixes = {root}/log
myhostname = bench.invalid
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
default_transport = discard:bench
max_use = 1000000
max_idle = 3600
""")
    with open(os.path.join(etc, "master.cf"), "w") as f:
        f.write(f"""127.0.0.1:{port} inet n - n - - smtpd
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
discard   unix  -       -       n       -       -       discard
proxymap  unix  -       -       n       -       -       proxymap
postlog   unix-dgram n  -       n       -       1       postlogd
""")
    env = dict(os.environ, MAIL_CONFIG=etc)
    subprocess.run([os.path.join(suite["sbin"], "postfix"), "-c", etc, "start"], check=True, env=env)
    return root, etc, env, port


def sent(root):
    try:
        with open(os.path.join(root, "log/maillog"), errors="replace") as f:
            return f.read().count("status=sent")
    except FileNotFoundError:
        return 0


def tree_cpu(root):
    try:
        pid = int(open(os.path.join(root, "spool/pid/master.pid")).read().strip())
    except (OSError, ValueError):
        return 0.0
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in f[11:15])
            for t in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in open(f"/proc/{p}/task/{t}/children").read().split()]
        except OSError:
            pass
    return total / CLK


def run(root, port, n, conc, size):
    before = sent(root)
    c0 = tree_cpu(root)
    t0 = time.monotonic()
    p = subprocess.run(["smtp-source", "-s", str(conc), "-m", str(n), "-l", str(size), "-f", "bench@bench.invalid",
                        "-t", "rcpt@far.invalid", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t_src = time.monotonic() - t0
    deadline = time.monotonic() + 600
    while sent(root) - before < n and time.monotonic() < deadline:
        time.sleep(0.02)
    t = time.monotonic() - t0
    cpu = tree_cpu(root) - c0
    return p.returncode == 0 and sent(root) - before >= n, t, t_src, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--conc", default="1,20,50")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    base = tempfile.mkdtemp(prefix="bench-ingest-", dir="/var/tmp")
    os.chmod(base, 0o755)
    inst = {}
    try:
        for s in SUITES:
            inst[s] = make(base, s, SUITES[s])
        time.sleep(1)
        for s in SUITES:
            run(inst[s][0], inst[s][3], 200, 10, a.size)
        for conc in [int(c) for c in a.conc.split(",")]:
            res = {s: [] for s in SUITES}
            for r in range(a.runs):
                for s in (list(SUITES) if r % 2 == 0 else list(SUITES)[::-1]):
                    root, etc, env, port = inst[s]
                    ok, t, ts, cpu = run(root, port, a.n, conc, a.size)
                    res[s].append((t, cpu))
                    print(f"kind=run suite={s} conc={conc} n={a.n} ok={int(ok)} secs={t:.2f} rate={a.n / t:.0f} "
                          f"src_rate={a.n / ts:.0f} mta_cpu_ms_per_msg={1000 * cpu / a.n:.2f}", flush=True)
            for s in SUITES:
                ts = sorted(x[0] for x in res[s])
                cs = sorted(x[1] for x in res[s])
                print(f"kind=summary suite={s} conc={conc} rate_med={a.n / ts[len(ts) // 2]:.0f} rate_max={a.n / ts[0]:.0f} "
                      f"mta_cpu_ms_per_msg_med={1000 * cs[len(cs) // 2] / a.n:.2f}", flush=True)
    finally:
        for s, (root, etc, env, port) in inst.items():
            subprocess.run([os.path.join(SUITES[s]["sbin"], "postfix"), "-c", etc, "stop"], env=env)
        time.sleep(1)
        shutil.rmtree(base, ignore_errors=True)


main()
