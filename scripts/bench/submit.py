#!/usr/bin/env python3
"""Local submission rate, ours next to Postfix in one run.

For each suite a private instance is made under a temp directory (run as
root: mail_owner postfix), every recipient goes to the discard transport,
and N messages are submitted with sendmail, P at a time. Timed: from the
first sendmail until the log shows N deliveries (`status=sent`); also
until the last sendmail exits (submit rate) and the CPU the sendmail
processes used. Runs alternate between the suites.

    python3 scripts/bench/submit.py [--n 1000] [--par 1,8] [--runs 3]

Needs Debian's Postfix for the comparison (/usr/sbin/postfix); ours is
taken from target/release (build it first: cargo build --release).
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SUITES = {
    "postfix": {"sbin": "/usr/sbin", "libexec": "/usr/lib/postfix/sbin"},
    "ours": {"sbin": os.path.join(TOP, "target/release"), "libexec": os.path.join(TOP, "target/release")},
}

MASTER_CF = """pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
discard   unix  -       -       n       -       -       discard
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def make_instance(base, name, suite):
    root = os.path.join(base, name)
    etc = os.path.join(root, "etc")
    os.makedirs(etc)
    os.makedirs(os.path.join(root, "log"))
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
alias_maps =
alias_database =
default_transport = discard:bench
local_transport = discard:bench
max_use = 1000000
max_idle = 3600
""")
    with open(os.path.join(etc, "master.cf"), "w") as f:
        f.write(MASTER_CF)
    os.makedirs(os.path.join(root, "spool"))
    env = dict(os.environ, MAIL_CONFIG=etc)
    subprocess.run([os.path.join(suite["sbin"], "postfix"), "-c", etc, "start"], check=True, env=env)
    return root, etc, env


def count_sent(root):
    try:
        with open(os.path.join(root, "log/maillog"), errors="replace") as f:
            return f.read().count("status=sent")
    except FileNotFoundError:
        return 0


def run_case(suite, root, etc, env, n, par):
    sendmail = os.path.join(SUITES[suite]["sbin"], "sendmail")
    before = count_sent(root)
    msg = b"Subject: bench\n\n" + b"x" * 900 + b"\n"

    def one(i):
        p = subprocess.run([sendmail, "-i", "-f", "bench@bench.invalid", f"r{i}@far.invalid"], input=msg, env=env)
        return p.returncode

    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=par) as ex:
        codes = list(ex.map(one, range(n)))
    t_submit = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    deadline = time.monotonic() + 600
    while count_sent(root) - before < n and time.monotonic() < deadline:
        time.sleep(0.02)
    t_done = time.monotonic() - t0
    ok = all(c == 0 for c in codes) and count_sent(root) - before >= n
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return ok, t_submit, t_done, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--par", default="1,8")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    base = tempfile.mkdtemp(prefix="bench-submit-", dir="/var/tmp")
    os.chmod(base, 0o755)
    inst = {}
    try:
        for s in SUITES:
            inst[s] = make_instance(base, s, SUITES[s])
        time.sleep(1)
        for par in [int(p) for p in args.par.split(",")]:
            results = {s: [] for s in SUITES}
            order = list(SUITES)
            for r in range(args.runs):
                for s in (order if r % 2 == 0 else order[::-1]):
                    root, etc, env = inst[s]
                    ok, ts, td, cpu = run_case(s, root, etc, env, args.n, par)
                    results[s].append((td, ts, cpu))
                    print(f"kind=run suite={s} par={par} n={args.n} ok={int(ok)} secs={td:.2f} rate={args.n / td:.0f} "
                          f"submit_rate={args.n / ts:.0f} client_cpu_ms_per_msg={1000 * cpu / args.n:.2f}", flush=True)
            for s in SUITES:
                tds = sorted(x[0] for x in results[s])
                cpus = sorted(x[2] for x in results[s])
                med = tds[len(tds) // 2]
                print(f"kind=summary suite={s} par={par} n={args.n} rate_med={args.n / med:.0f} rate_max={args.n / tds[0]:.0f} "
                      f"client_cpu_ms_per_msg_med={1000 * cpus[len(cpus) // 2] / args.n:.2f}", flush=True)
    finally:
        for s, (root, etc, env) in inst.items():
            subprocess.run([os.path.join(SUITES[s]["sbin"], "postfix"), "-c", etc, "stop"], env=env)
        time.sleep(1)
        shutil.rmtree(base, ignore_errors=True)


main()
