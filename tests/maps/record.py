#!/usr/bin/env python3
"""Records what Postfix's own postmap/postalias answer for the corpus.

Usage: tests/maps/record.py [CASE...]

For each case directory under tests/maps/cases, copies it to a temporary
directory, runs the lines of its `commands` file there in order with the
installed Postfix commands (Debian's postfix 3.7 packages: postfix,
postfix-pcre, postfix-cdb, postfix-lmdb) and writes what each printed and
its exit status to `expected` in the case directory. The Rust test
(crates/postmap/tests/corpus.rs) runs our commands the same way and
compares.

A `commands` line is `FLAGS | STDIN | COMMAND...`:
  FLAGS  comma-separated, or `-`: `sort` (compare stdout sorted: hash
         order is not ours), `stderr` (compare stderr too), `yp` (replace
         the values of postalias's YP_* entries, which hold the time and
         host name), `dup` (compare duplicate-key warnings without the
         place: ours name the source file and line, Postfix's the
         database file);
  STDIN  a file of the case to feed to the command, or `-` for none;
  COMMAND  `postmap ARGS...` or `postalias ARGS...`, split as a shell
         does; `-c CONFIG` is added (a directory with the case's main.cf,
         or an empty one).
"""
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "cases")


def parse_commands(path):
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            flags, stdin, cmd = [p.strip() for p in line.split("|", 2)]
            out.append((flags, stdin, cmd))
    return out


def run_case(name, programs):
    case = os.path.join(CASES, name)
    work = tempfile.mkdtemp(prefix="maps-corpus-")
    try:
        conf = os.path.join(work, "conf")
        os.mkdir(conf)
        main_cf = os.path.join(case, "main.cf")
        if os.path.exists(main_cf):
            shutil.copy(main_cf, os.path.join(conf, "main.cf"))
        else:
            open(os.path.join(conf, "main.cf"), "w").close()
        data = os.path.join(work, "data")
        shutil.copytree(case, data)
        records = []
        for flags, stdin, cmd in parse_commands(os.path.join(case, "commands")):
            argv = shlex.split(cmd)
            prog = programs[argv[0]]
            full = [prog, "-c", conf] + argv[1:]
            inp = b""
            if stdin != "-":
                with open(os.path.join(data, stdin), "rb") as f:
                    inp = f.read()
            p = subprocess.run(full, cwd=data, input=inp, capture_output=True)
            records.append((flags, stdin, cmd, p.returncode, p.stdout, p.stderr))
        return records
    finally:
        shutil.rmtree(work)


def write_expected(name, records):
    with open(os.path.join(CASES, name, "expected"), "wb") as f:
        for flags, stdin, cmd, rc, out, err in records:
            f.write(f"=== {flags} | {stdin} | {cmd}\n".encode())
            f.write(f"rc {rc}\n".encode())
            f.write(f"stdout {len(out)}\n".encode() + out + b"\n")
            f.write(f"stderr {len(err)}\n".encode() + err + b"\n")


def main():
    programs = {"postmap": "/usr/sbin/postmap", "postalias": "/usr/sbin/postalias"}
    names = sys.argv[1:] or sorted(os.listdir(CASES))
    for name in names:
        write_expected(name, run_case(name, programs))
        print(f"recorded {name}")


if __name__ == "__main__":
    main()
