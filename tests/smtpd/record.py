#!/usr/bin/env python3
"""Record golden SMTP dialogs from Debian's Postfix 3.7.

For each tests/smtpd/scripts/NAME.cmds, start a private Postfix instance
(run as root) with the settings the test instances use plus the script's
`@main.cf` lines, send the script's client lines one at a time, and write
tests/smtpd/dialogs/NAME.dialog with the client lines (C:) and Postfix's
replies (S:). The host name becomes {HOST} and queue IDs {ID}.

Script lines:
  @main.cf name = value   a main.cf setting for this dialog
  C: text                 a client line, sent with CR LF
  R: text                 raw bytes (Python escapes), no reply awaited
  W:                      wait for one reply (after R: lines)
  T:                      start TLS (after the 220 to STARTTLS); no reply

In @main.cf lines, {TESTDATA} names crates/tls/testdata (test certificates).

    python3 tests/smtpd/record.py [NAME...]

With RECORD_LOG=1 in the environment, Postfix's maillog of each dialog
goes to stderr.
"""
import os, re, shutil, socket, ssl, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.join(HERE, "..", "..", "crates", "tls", "testdata")
HOST = "test.example"

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def start(extra):
    root = tempfile.mkdtemp(prefix="record-"); os.chmod(root, 0o755)
    port = free_port()
    etc = os.path.join(root, "etc"); os.makedirs(etc); os.makedirs(os.path.join(root, "log"))
    with open(os.path.join(etc, "main.cf"), "w") as f:
        base = f"""compatibility_level = 3.7
queue_directory = {root}/spool
data_directory = {root}/data
maillog_file = {root}/log/maillog
maillog_file_prefixes = {root}/log
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = {HOST}
mydestination = $myhostname, localhost
alias_maps =
alias_database =
default_transport = discard:relayed
local_transport = discard:local
"""
        # A script's settings replace the defaults above.
        base = [l for l in base.splitlines()
                if l.split("=")[0].strip() not in {e.split("=")[0].strip() for e in extra}]
        f.write("\n".join(base) + "\n" + "".join(l + "\n" for l in extra))
    with open(os.path.join(etc, "master.cf"), "w") as f:
        f.write(f"""127.0.0.1:{port} inet n - n - - smtpd
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
discard   unix  -       -       n       -       -       discard
proxymap  unix  -       -       n       -       -       proxymap
postlog   unix-dgram n  -       n       -       1       postlogd
flush     unix  n       -       n       1000?   0       flush
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
""")
    os.makedirs(os.path.join(root, "spool"))
    subprocess.run(["postfix", "-c", etc, "start"], check=True)
    time.sleep(0.5)
    return root, etc, port

def stop(root, etc):
    subprocess.run(["postfix", "-c", etc, "stop"])
    time.sleep(0.5)
    shutil.rmtree(root, ignore_errors=True)

def read_reply(sock, buf):
    while True:
        m = re.search(rb"(?:^|\r\n)\d{3} [^\r\n]*\r\n", buf)
        if m:
            return buf[:m.end()], buf[m.end():]
        try:
            d = sock.recv(65536)
        except socket.timeout:
            return b"(timeout)\r\n", buf
        except ConnectionResetError:
            d = b""
        if not d:
            return b"(closed)\r\n", buf
        buf += d

def normalize(text):
    text = text.replace(HOST, "{HOST}")
    return re.sub(r"queued as [0-9A-Za-z]+", "queued as {ID}", text)

def record(name):
    lines = open(os.path.join(HERE, "scripts", name + ".cmds")).read().splitlines()
    extra = [l[len("@main.cf "):].replace("{TESTDATA}", os.path.realpath(TESTDATA))
             for l in lines if l.startswith("@main.cf ")]
    root, etc, port = start(extra)
    out = [l for l in lines if l.startswith("#") or l.startswith("@main.cf ")]
    try:
        s = socket.create_connection(("127.0.0.1", port)); s.settimeout(10)
        buf = b""
        r, buf = read_reply(s, buf)
        out += ["S: " + normalize(x) for x in r.decode(errors="replace").rstrip("\r\n").split("\r\n")]
        for l in lines:
            if l.startswith("C: "):
                try:
                    s.sendall(l[3:].encode() + b"\r\n")
                except OSError:
                    out.append("S: (closed)"); break
                out.append(l)
            elif l.startswith("R: "):
                s.sendall(l[3:].encode().decode("unicode_escape").encode("latin-1")); out.append(l); continue
            elif l.startswith("W:"):
                out.append(l)
            elif l.startswith("T:"):
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                s = ctx.wrap_socket(s)
                out.append(l)
                continue
            else:
                continue
            r, buf = read_reply(s, buf)
            out += ["S: " + normalize(x) for x in r.decode(errors="replace").rstrip("\r\n").split("\r\n")]
            if r.startswith(b"(closed)"):
                break
    finally:
        if os.environ.get("RECORD_LOG"):
            time.sleep(1)
            sys.stderr.write(open(os.path.join(root, "log", "maillog")).read())
        stop(root, etc)
    with open(os.path.join(HERE, "dialogs", name + ".dialog"), "w") as f:
        f.write("\n".join(out) + "\n")
    print("recorded", name)

names = sys.argv[1:] or sorted(n[:-5] for n in os.listdir(os.path.join(HERE, "scripts")) if n.endswith(".cmds"))
for n in names:
    record(n)
