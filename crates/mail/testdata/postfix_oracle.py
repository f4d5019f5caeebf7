#!/usr/bin/env python3
"""Compare mail::address::parse_list with the installed Postfix.

Usage (as root, Postfix 3.7 installed, from the workspace root):
    cargo build -p mail --example addrlist
    python3 crates/mail/testdata/postfix_oracle.py start
    python3 crates/mail/testdata/postfix_oracle.py compare SEED COUNT
    python3 crates/mail/testdata/postfix_oracle.py record SEED... > crates/mail/testdata/postfix_address_lists.txt
    python3 crates/mail/testdata/postfix_oracle.py stop

"start" runs a private Postfix instance under /tmp/mail-oracle with no
queue manager, so that what cleanup(8) writes stays in incoming/.
"compare" generates COUNT header values from SEED, submits one message
with each value in a To: header followed by a unique Cc: separator
(sendmail -t), reads the original_recipient records with postcat and
compares them with the parser's output (examples/addrlist). Postfix
drops duplicate recipients within a message; so does the comparison.
"""

import os
import random
import re
import subprocess
import sys
import time

ROOT = "/tmp/mail-oracle"
CONF = ROOT + "/conf"
QUEUE = ROOT + "/queue"
ADDRLIST = "target/debug/examples/addrlist"
MASTER_CF = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def main_cf():
    return "\n".join([
        "compatibility_level = 3.6",
        "config_directory = " + CONF,
        "queue_directory = " + QUEUE,
        "data_directory = " + ROOT + "/data",
        "mail_owner = postfix",
        "setgid_group = postdrop",
        "maillog_file = " + ROOT + "/maillog",
        "maillog_file_prefixes = " + ROOT,
        "myhostname = ref.example",
        "myorigin = ref.example",
        "mydestination = localhost",
        "inet_interfaces = loopback-only",
        "alias_maps =",
        "alias_database =",
        "",
    ])


def env():
    return dict(os.environ, MAIL_CONFIG=CONF)


def start():
    for d in (ROOT, CONF, QUEUE):
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
    with open(CONF + "/main.cf", "w") as f:
        f.write(main_cf())
    with open(CONF + "/master.cf", "w") as f:
        f.write(MASTER_CF)
    subprocess.run(["postfix", "-c", CONF, "start"], env=env(), check=True)


def stop():
    subprocess.run(["postfix", "-c", CONF, "stop"], env=env(), check=False)


def generate(seed, count):
    """Header values of random tokens, unique words per value."""
    rnd = random.Random(seed)
    cases = []
    for k in range(count):
        toks = []
        for u in range(1, rnd.randint(1, 14) + 1):
            r = rnd.random()
            tag = "c%dw%d" % (k, u)
            if r < 0.30:
                toks.append(tag)
            elif r < 0.36:
                toks.append('"%s q"' % tag)
            elif r < 0.38:
                toks.append('"%s\\"e"' % tag)
            elif r < 0.40:
                toks.append('%s\\ e' % tag)
            elif r < 0.44:
                toks.append('(%s)' % tag)
            elif r < 0.46:
                toks.append('(%s (n) \\) x)' % tag)
            elif r < 0.49:
                toks.append('[%s]' % tag)
            else:
                toks.append(rnd.choice("<>@,;:.<>@@..,;:"))
        s = "".join(rnd.choice(["", "", " ", "\t"]) + t for t in toks)
        if rnd.random() < 0.05:
            s += rnd.choice(['"c%dun', '(c%dun', '[c%dun', 'c%dz\\']) % k
        cases.append(s.strip())
    return cases


def postfix_extract(cases):
    """Per value, the original recipients Postfix extracted."""
    msg = []
    for k, c in enumerate(cases):
        msg += ["To: " + c, "Cc: sep%d@sep.example" % k]
    msg += ["Subject: oracle", "", "body", ""]
    incoming = QUEUE + "/incoming"
    before = set(os.listdir(incoming))
    subprocess.run(["sendmail", "-C", CONF, "-t", "-f", "oracle"],
                   input="\n".join(msg).encode(), env=env(), check=True)
    for _ in range(300):
        new = [f for f in set(os.listdir(incoming)) - before
               if os.stat(os.path.join(incoming, f)).st_mode & 0o100]
        if new:
            break
        time.sleep(0.1)
    else:
        raise SystemExit("no queue file appeared")
    path = os.path.join(incoming, new[0])
    out = subprocess.run(["postcat", "-c", CONF, path], env=env(),
                         capture_output=True, check=True).stdout.decode("utf-8", "replace")
    os.unlink(path)
    groups = [[]]
    for line in out.split("\n"):
        m = re.match(r"original_recipient: (.*)$", line)
        if not m:
            continue
        a = m.group(1)
        if a.startswith("sep") and a.endswith("@sep.example"):
            groups.append([])
        else:
            groups[-1].append(a)
    return groups[:len(cases)]


def ours(cases):
    out = subprocess.run([ADDRLIST], input=("\n".join(cases) + "\n").encode(),
                         capture_output=True, check=True).stdout.decode()
    seen = set()
    result = []
    for line in out.split("\n")[:len(cases)]:
        keep = []
        for a in (line.split("\t") if line else []):
            key = a if "@" in a else a + "@ref.example"
            if key not in seen:
                keep.append(a)
            seen.add(key)
        result.append(keep)
    return result


def compare(seed, count):
    cases = generate(seed, count)
    bad = 0
    for c, pf, us in zip(cases, postfix_extract(cases), ours(cases)):
        if pf != us:
            bad += 1
            print("DIFF %r\n  postfix %r\n  ours    %r" % (c, pf, us))
    print("%d passed, %d failed" % (count - bad, bad))
    return 1 if bad else 0


def record(seeds):
    print("# Address lists and the recipients Postfix 3.7.11 extracted from them,")
    print("# written by postfix_oracle.py record (see there).")
    print("# 'M' starts a message: Postfix drops a recipient it already has in")
    print("# the same message, so the test applies the same rule.")
    print("# 'V value' is a header value, each 'A addr' one extracted address.")
    for seed in seeds:
        cases = generate(seed, 250)
        print("M seed %d" % seed)
        for c, g in zip(cases, postfix_extract(cases)):
            print("V " + c)
            for a in g:
                print("A " + a)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "start":
        start()
    elif cmd == "stop":
        stop()
    elif cmd == "compare":
        sys.exit(compare(int(sys.argv[2]), int(sys.argv[3])))
    elif cmd == "record":
        record([int(s) for s in sys.argv[2:]])
    else:
        sys.exit(__doc__)
