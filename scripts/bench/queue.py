#!/usr/bin/env python3
"""mailq, postqueue -j and postsuper -d ALL over a large queue, ours next
to Postfix in one run.

For each suite a private instance is made under a temp directory (run as
root: mail_owner postfix) that runs only showq(8) and postlogd: nothing
delivers, so the queue stays as it was filled. The deferred queue is
filled directly with N one-recipient messages of about 1 KB, each with a
defer log entry ("host is down"), in each suite's own queue file format
(Postfix's records as its cleanup writes them; ours as the queue crate
does) -- the same queue state, made fast; filling is not timed.

Timed, alternating between the suites:
  * mailq (postqueue -p), reading the whole output: wall time, CPU of
    postqueue plus showq, peak RSS of postqueue and of showq;
  * postqueue -j, the same;
  * postsuper -d ALL: wall time and CPU.
Peak RSS at two queue sizes shows whether memory grows with the queue.

    python3 scripts/bench/queue.py [--sizes 10000,100000] [--runs 3]

Needs Debian's Postfix (/usr/sbin/postfix); ours comes from
target/release (cargo build --release -p master -p postfix -p postlogd
-p showq -p postqueue -p postsuper -p sendmail).
"""
import argparse
import os
import pwd
import shutil
import struct
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLK = os.sysconf("SC_CLK_TCK")

SUITES = {
    "postfix": {"sbin": "/usr/sbin", "libexec": "/usr/lib/postfix/sbin"},
    "ours": {"sbin": os.path.join(TOP, "target/release"), "libexec": os.path.join(TOP, "target/release")},
}

MASTER_CF = """showq     unix  n       -       n       -       -       showq
postlog   unix-dgram n  -       n       -       1       postlogd
"""

BODY_LINES = [b"Received: by bench.invalid (Postfix, from userid 0)",
              None,  # "\tid ID; date", filled per message
              b"Subject: bench",
              None,  # Message-Id
              b"Date: Mon, 23 Nov 2026 13:21:17 +0000 (UTC)",
              b"From: root <bench@bench.invalid>",
              b""] + [b"x" * 76] * 11


def varlen(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def rec(t, data):
    return t + varlen(len(data)) + data


def lines_for(qid):
    ls = list(BODY_LINES)
    ls[1] = b"\tid " + qid.encode() + b"; Mon, 23 Nov 2026 13:21:17 +0000 (UTC)"
    ls[3] = b"Message-Id: <20261123132117." + qid.encode() + b"@bench.invalid>"
    return ls


def postfix_file(qid, now, rcpt):
    """A queue file as Postfix's cleanup writes it, with the offsets of
    the size record right."""
    lines = lines_for(qid)
    content = b"".join(rec(b"N", l) for l in lines)
    env = [rec(b"T", b"%d 0" % now),
           rec(b"A", b"create_time=%d" % now),
           rec(b"A", b"rewrite_context=local"),
           rec(b"F", b"root"),
           rec(b"S", b"bench@bench.invalid"),
           rec(b"A", b"dsn_orig_rcpt=rfc822;" + rcpt),
           rec(b"O", rcpt)]
    rcpt_at = None
    size_len = len(rec(b"C", b"x" * (15 * 6 + 5)))
    head = b"".join(env)
    rcpt_at = size_len + len(head)
    head += rec(b"R", rcpt)
    data_offset = size_len + len(head) + len(rec(b"M", b""))
    size = len(content)
    c = rec(b"C", b"%15d %15d %15d %15d %15d %15d" % (size, data_offset, 1, 0, size, 0))
    assert len(c) == size_len
    tail = rec(b"X", b"") + rec(b"E", b"")
    return c + head + rec(b"M", b"") + content + tail, rcpt_at


def postfix_defer(rcpt, offset):
    r = rcpt.decode()
    return (f"<{r}>: host is down\nrecipient={r}\noffset={offset}\n"
            f"dsn_orig_rcpt=rfc822;{r}\nstatus=4.4.1\naction=delayed\nreason=host is down\n\n").encode()


def our_file(qid, now, rcpt):
    """A queue file in our format (crates/queue/src/record.rs)."""
    content = b"".join(l + b"\n" for l in lines_for(qid))
    psize = sum(2 + len(l) if len(l) < 128 else 3 + len(l) for l in lines_for(qid))
    out = bytearray(b"RMQ1\n")
    out += rec(b"T", b"%d 0" % now)
    out += rec(b"S", b"bench@bench.invalid")
    out += rec(b"A", b"sender_fullname=root")
    out += rec(b"A", b"rewrite_context=local")
    out += rec(b"O", rcpt)
    rcpt_at = len(out)
    out += rec(b"R", rcpt)
    out += rec(b"W", struct.pack("<Q", 0))
    out += b"M" + struct.pack("<Q", len(content)) + content
    out += rec(b"X", b"")
    out += rec(b"C", str(psize).encode())
    out += rec(b"E", b"")
    return bytes(out), rcpt_at


def our_defer(rcpt, offset, now):
    r = rcpt.decode()
    return (f"recipient={r}\torig={r}\toffset={offset}\tnotify=0\torcpt=\tdsn=4.4.1\taction=delayed"
            f"\trelay=none\treason=host is down\ttime={now}\n").encode()


def fill(suite, spool, n):
    owner = pwd.getpwnam("postfix")
    now = int(time.time())
    for d in ("deferred", "defer"):
        for h in "0123456789ABCDEF":
            os.makedirs(os.path.join(spool, d, h), exist_ok=True)
    for i in range(n):
        qid = "%05X%06X" % (i % 1000000, 0x100000 + i)
        rcpt = b"r%d@far.invalid" % i
        if suite == "postfix":
            data, at = postfix_file(qid, now, rcpt)
            log = postfix_defer(rcpt, at)
        else:
            data, at = our_file(qid, now, rcpt)
            log = our_defer(rcpt, at, now)
        for d, payload, mode in (("deferred", data, 0o700), ("defer", log, 0o600)):
            p = os.path.join(spool, d, qid[0], qid)
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.write(fd, payload)
            os.fchmod(fd, mode)
            os.fchown(fd, owner.pw_uid, owner.pw_gid)
            os.close(fd)
    for d in ("deferred", "defer"):
        for dirpath, dirs, _ in os.walk(os.path.join(spool, d)):
            os.chown(dirpath, owner.pw_uid, owner.pw_gid)


def make_instance(base, name, suite):
    root = os.path.join(base, name)
    etc = os.path.join(root, "etc")
    os.makedirs(etc)
    os.makedirs(os.path.join(root, "log"))
    os.makedirs(os.path.join(root, "spool"))
    with open(os.path.join(etc, "main.cf"), "w") as f:
        f.write(f"""compatibility_level = 3.7
queue_directory = {root}/spool
data_directory = {root}/data
command_directory = {suite['sbin']}
daemon_directory = {suite['libexec']}
mail_owner = postfix
setgid_group = postdrop
maillog_file = {root}/log/maillog
maillog_file_prefixes = {root}/log
myhostname = bench.invalid
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
alias_maps =
alias_database =
max_use = 1000000
max_idle = 3600
""")
    with open(os.path.join(etc, "master.cf"), "w") as f:
        f.write(MASTER_CF)
    env = dict(os.environ, MAIL_CONFIG=etc, TZ="UTC")
    subprocess.run([os.path.join(suite["sbin"], "postfix"), "-c", etc, "start"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return root, etc, env


def instance_procs(etc):
    """PIDs of the processes of an instance (MAIL_CONFIG in their environment)."""
    want = ("MAIL_CONFIG=" + etc).encode()
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                if want in f.read().split(b"\0"):
                    out.append(int(d))
        except OSError:
            pass
    return out


def cpu_by_pid(etc):
    """CPU seconds of each process of an instance."""
    out = {}
    for p in instance_procs(etc):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[p] = (int(fields[11]) + int(fields[12])) / CLK
        except OSError:
            pass
    return out


def hwm(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def showq_pid(etc):
    for p in instance_procs(etc):
        try:
            with open(f"/proc/{p}/comm") as f:
                if f.read().strip() == "showq":
                    return p
        except OSError:
            pass
    return None


def timed(argv, env):
    """Runs a command to the end, reading its output, under /usr/bin/time
    (whose own small footprint before exec is in the peak); returns (secs,
    cpu secs, peak RSS kB, last line of output, line count, exit code)."""
    fd, stats = tempfile.mkstemp(prefix="bench-time-")
    os.close(fd)
    t0 = time.monotonic()
    p = subprocess.Popen(["/usr/bin/time", "-f", "%M %U %S", "-o", stats] + argv, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    last = b""
    count = 0
    for line in p.stdout:
        count += 1
        last = line
    err = p.stderr.read()
    rc = p.wait()
    secs = time.monotonic() - t0
    with open(stats) as f:
        words = f.read().split()
    os.unlink(stats)
    rss, user, sys_ = int(words[-3]), float(words[-2]), float(words[-1])
    return secs, user + sys_, rss, (last or err).decode(errors="replace").strip(), count, rc


def list_case(suite, etc, env, cmd):
    sbin = SUITES[suite]["sbin"]
    argv = [os.path.join(sbin, "postqueue"), "-p" if cmd == "mailq" else "-j"]
    c0 = cpu_by_pid(etc)
    secs, cpu, rss, last, lines, rc = timed(argv, env)
    c1 = cpu_by_pid(etc)
    # A process that started during the run (showq) counts in full.
    server_cpu = sum(t - c0.get(p, 0) for p, t in c1.items())
    sq = showq_pid(etc)
    return {"secs": secs, "client_cpu": cpu, "server_cpu": server_cpu, "client_rss_kb": rss,
            "showq_rss_kb": hwm(sq) if sq else 0, "last": last, "lines": lines, "rc": rc}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    base = tempfile.mkdtemp(prefix="bench-queue-", dir="/var/tmp")
    os.chmod(base, 0o755)
    inst = {}
    try:
        for n in [int(s) for s in args.sizes.split(",")]:
            for s in SUITES:
                root, etc, env = make_instance(base, f"{s}-{n}", SUITES[s])
                inst[s] = (root, etc, env)
                t0 = time.monotonic()
                fill(s, os.path.join(root, "spool"), n)
                print(f"kind=fill suite={s} n={n} secs={time.monotonic() - t0:.1f}", flush=True)
            time.sleep(1)
            order = list(SUITES)
            for cmd in ("mailq", "json"):
                res = {s: [] for s in SUITES}
                for r in range(args.runs):
                    for s in (order if r % 2 == 0 else order[::-1]):
                        root, etc, env = inst[s]
                        subprocess.run(["sync"])
                        x = list_case(s, etc, env, cmd)
                        ok = x["rc"] == 0 and (
                            x["last"].endswith(f"in {n} Requests.") if cmd == "mailq" else x["lines"] == n)
                        res[s].append(x)
                        print(f"kind=run what={cmd} suite={s} n={n} ok={int(ok)} secs={x['secs']:.3f} "
                              f"us_per_msg={1e6 * x['secs'] / n:.1f} client_cpu_s={x['client_cpu']:.3f} "
                              f"showq_cpu_s={x['server_cpu']:.3f} client_rss_kb={x['client_rss_kb']} "
                              f"showq_rss_kb={x['showq_rss_kb']}", flush=True)
                for s in SUITES:
                    secs = sorted(x["secs"] for x in res[s])
                    cpu = sorted(x["client_cpu"] + x["server_cpu"] for x in res[s])
                    print(f"kind=summary what={cmd} suite={s} n={n} secs_med={secs[len(secs) // 2]:.3f} "
                          f"secs_min={secs[0]:.3f} cpu_s_med={cpu[len(cpu) // 2]:.3f} "
                          f"client_rss_kb_max={max(x['client_rss_kb'] for x in res[s])} "
                          f"showq_rss_kb_max={max(x['showq_rss_kb'] for x in res[s])}", flush=True)
            for s in (order if n % 2 == 0 else order[::-1]):
                root, etc, env = inst[s]
                argv = [os.path.join(SUITES[s]["sbin"], "postsuper"), "-d", "ALL"]
                secs, cpu, rss, last, _, rc = timed(argv, env)
                left = sum(len(f) for _, _, f in os.walk(os.path.join(root, "spool", "deferred")))
                print(f"kind=run what=postsuper-d-ALL suite={s} n={n} ok={int(rc == 0 and left == 0)} "
                      f"secs={secs:.3f} us_per_msg={1e6 * secs / n:.1f} cpu_s={cpu:.3f} rss_kb={rss} "
                      f"said=\"{last}\"", flush=True)
            for s, (root, etc, env) in inst.items():
                subprocess.run([os.path.join(SUITES[s]["sbin"], "postfix"), "-c", etc, "stop"], env=env,
                               stdout=subprocess.DEVNULL)
            inst = {}
    finally:
        for s, (root, etc, env) in inst.items():
            subprocess.run([os.path.join(SUITES[s]["sbin"], "postfix"), "-c", etc, "stop"], env=env)
        time.sleep(1)
        shutil.rmtree(base, ignore_errors=True)


main()
