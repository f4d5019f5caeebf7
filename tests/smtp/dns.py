#!/usr/bin/env python3
"""A tiny authoritative DNS server for the smtp(8) tests (Python dnslib).

    dns.py PORT ZONEFILE

Answers from ZONEFILE (master-file format, absolute names) on
127.0.0.1:PORT over UDP and TCP: the records of the name and type asked
for, NODATA (NOERROR, no answer) for a name that has other types, and
NXDOMAIN for a name that has none. Prints "ready" once it listens.
"""
import sys
import time

from dnslib import QTYPE, RCODE, RR
from dnslib.server import BaseResolver, DNSServer

port, zonefile = int(sys.argv[1]), sys.argv[2]
records = RR.fromZone(open(zonefile).read())


class Resolver(BaseResolver):
    def resolve(self, request, handler):
        reply = request.reply()
        q = request.q
        names = [r for r in records if r.rname == q.qname]
        for r in names:
            if r.rtype == q.qtype or q.qtype == QTYPE.ANY:
                reply.add_answer(r)
        if not names:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class Quiet:
    def __getattr__(self, name):
        return lambda *a, **k: None


servers = [DNSServer(Resolver(), port=port, address="127.0.0.1", tcp=tcp, logger=Quiet()) for tcp in (False, True)]
for s in servers:
    s.start_thread()
print("ready", flush=True)
try:
    sys.stdin.read()  # until the test closes our stdin or kills us
finally:
    for s in servers:
        s.stop()
