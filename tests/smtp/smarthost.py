#!/usr/bin/env python3
"""A smarthost for the smtp(8) tests: aiosmtpd with STARTTLS and AUTH.

    smarthost.py PORT CERT KEY USER PASSWORD OUTDIR

Listens on 127.0.0.1:PORT, offers STARTTLS with CERT/KEY, requires TLS
before AUTH and AUTH (PLAIN or LOGIN, USER/PASSWORD) before MAIL, and
writes each message to OUTDIR/N.eml with the envelope in OUTDIR/N.env.
Prints "ready" once it listens.
"""
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, user, password, outdir = sys.argv[1:7]
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)


class Handler:
    n = 0

    async def handle_DATA(self, server, session, envelope):
        Handler.n += 1
        base = os.path.join(outdir, str(Handler.n))
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + ".env", "w") as f:
            f.write("from=%s\nto=%s\ntls=%s\nauth=%s\n" % (
                envelope.mail_from, ",".join(envelope.rcpt_tos),
                session.ssl is not None, session.authenticated))
        return "250 2.0.0 Ok: queued as SMART%d" % Handler.n


def authenticator(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword) and \
            auth_data.login == user.encode() and auth_data.password == password.encode():
        return AuthResult(success=True)
    return AuthResult(success=False, handled=False)


c = Controller(Handler(), hostname="127.0.0.1", port=int(port), tls_context=ctx,
               require_starttls=True, auth_required=True, auth_require_tls=True,
               authenticator=authenticator, server_hostname="smarthost.test")
c.start()
print("ready", flush=True)
try:
    sys.stdin.read()  # until the test closes our stdin or kills us
finally:
    c.stop()
