//! smtpd(8) against the golden dialogs in tests/smtpd/dialogs, which were
//! recorded from Debian's Postfix 3.7 by tests/smtpd/record.py (the
//! differential test: the same client lines, Postfix's replies as the
//! expectation), and end-to-end delivery with Python's smtplib.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};

use testkit::{Instance, MINIMAL_MASTER_CF};

const MASTER_CF: &str = "127.0.0.1:$PORT inet n - n - - smtpd
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
discard   unix  -       -       n       -       -       discard
proxymap  unix  -       -       n       -       -       proxymap
flush     unix  n       -       n       1000?   0       flush
";

const MAIN_CF: &str = "mydestination = $myhostname, localhost
default_transport = discard:relayed
local_transport = discard:local
";

fn instance(name: &str, extra: &str) -> Instance {
    let inst = Instance::builder(name)
        .master_cf(&format!("{MINIMAL_MASTER_CF}{MASTER_CF}"))
        .main_cf(&format!("{MAIN_CF}{extra}"))
        .build();
    inst.start();
    assert!(inst.wait_log("daemon started", Duration::from_secs(10)));
    inst
}

/// Reads one complete reply.
fn read_reply(s: &mut impl Read, buf: &mut Vec<u8>) -> Vec<String> {
    loop {
        let text = String::from_utf8_lossy(buf).into_owned();
        let mut pos = 0;
        for line in text.split_inclusive("\r\n") {
            pos += line.len();
            if !line.ends_with("\r\n") {
                break;
            }
            if line.len() >= 4 && line.as_bytes()[3] == b' ' {
                let reply: Vec<String> = text[..pos]
                    .trim_end_matches("\r\n")
                    .split("\r\n")
                    .map(String::from)
                    .collect();
                buf.drain(..pos);
                return reply;
            }
        }
        let mut chunk = [0u8; 65536];
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return vec!["(closed)".into()],
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The test certificates (crates/tls/testdata).
fn testdata() -> std::path::PathBuf {
    testkit::repo_dir().join("crates/tls/testdata")
}

/// The client's connection, in the clear or inside TLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Conn {
    /// STARTTLS done: the handshake, verifying the server against the
    /// test CA (its certificate is for mx.example.test).
    fn start_tls(self) -> Conn {
        let Conn::Plain(tcp) = self else {
            panic!("TLS already active")
        };
        let mut roots = rustls::RootCertStore::empty();
        for c in tls::certs::load_certs(&testdata().join("ca.pem")).unwrap() {
            roots.add(c).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from("mx.example.test").unwrap();
        let conn = ClientConnection::new(Arc::new(config), name).unwrap();
        let mut tls = StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock).expect("TLS handshake");
        }
        Conn::Tls(Box::new(tls))
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(t) => t.flush(),
        }
    }
}

fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'\\' => out.push(b'\\'),
                b'x' if i + 3 < b.len() => {
                    out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).unwrap());
                    i += 2;
                }
                c => out.push(c),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn matches(expected: &str, got: &str) -> bool {
    let e = expected.replace("{HOST}", "test.example");
    match e.split_once("{ID}") {
        Some((a, b)) => got.starts_with(a) && got.ends_with(b) && got.len() > a.len() + b.len(),
        None => e == got,
    }
}

fn run_dialog(name: &str) -> Result<(), String> {
    let path = testkit::repo_dir()
        .join("tests/smtpd/dialogs")
        .join(format!("{name}.dialog"));
    let text = std::fs::read_to_string(&path).unwrap();
    let extra: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("@main.cf "))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .replace("{TESTDATA}", &testdata().display().to_string());
    let mut inst = instance(&format!("dlg-{name}"), &extra);
    let tcp = TcpStream::connect(("127.0.0.1", inst.port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut s = Conn::Plain(tcp);
    let mut buf = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    let mut transcript = String::new();
    let mut result = Ok(());
    // The greeting and every reply: compare with the S: lines that follow.
    let mut expect_reply = true;
    while i < lines.len() {
        let l = lines[i];
        if l.starts_with('#') || l.starts_with("@main.cf ") {
            i += 1;
            continue;
        }
        if expect_reply {
            let mut expected = Vec::new();
            while i < lines.len() && lines[i].starts_with("S: ") {
                expected.push(&lines[i][3..]);
                i += 1;
            }
            if !expected.is_empty() {
                let got = read_reply(&mut s, &mut buf);
                for g in &got {
                    transcript.push_str(&format!("S: {g}\n"));
                }
                let ok = expected.len() == got.len()
                    && expected.iter().zip(&got).all(|(e, g)| matches(e, g));
                if !ok && result.is_ok() {
                    result = Err(format!("{name}: expected {expected:?}, got {got:?}"));
                }
            }
            expect_reply = false;
            continue;
        }
        if let Some(c) = l.strip_prefix("C: ") {
            transcript.push_str(&format!("{l}\n"));
            let _ = s.write_all(format!("{c}\r\n").as_bytes());
            expect_reply = true;
        } else if let Some(raw) = l.strip_prefix("R: ") {
            transcript.push_str(&format!("{l}\n"));
            let _ = s.write_all(&unescape(raw));
        } else if l.starts_with("W:") {
            expect_reply = true;
        } else if l.starts_with("T:") {
            transcript.push_str("T:\n");
            s = s.start_tls();
        }
        i += 1;
    }
    inst.stop();
    let log = inst.log();
    assert!(!log.contains("panic"), "{log}");
    result.map_err(|e| format!("{e}\n--- transcript ---\n{transcript}--- log ---\n{log}"))
}

#[test]
fn golden_dialogs() {
    let dir = testkit::repo_dir().join("tests/smtpd/dialogs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".dialog"))
                .map(String::from)
        })
        .collect();
    names.sort();
    assert!(!names.is_empty());
    let failures: Vec<String> = names.iter().filter_map(|n| run_dialog(n).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} dialogs differ:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n\n")
    );
}

/// Sends `chunks` as one BDAT message and returns the final reply.
fn send_bdat(s: &mut TcpStream, buf: &mut Vec<u8>, chunks: &[&[u8]]) -> Vec<String> {
    for (i, c) in chunks.iter().enumerate() {
        let last = if i + 1 == chunks.len() { " LAST" } else { "" };
        s.write_all(format!("BDAT {}{last}\r\n", c.len()).as_bytes())
            .unwrap();
        s.write_all(c).unwrap();
        let reply = read_reply(s, buf);
        if !last.is_empty() {
            return reply;
        }
        assert_eq!(reply, vec![format!("250 2.0.0 Ok: {} bytes", c.len())]);
    }
    unreachable!("the last chunk returns")
}

/// The queue ID in a `250 2.0.0 Ok: ... queued as ID` reply.
fn queued_id(reply: &[String]) -> String {
    let last = reply.last().expect("a reply");
    last.rsplit_once("queued as ")
        .unwrap_or_else(|| panic!("not queued: {reply:?}"))
        .1
        .to_string()
}

/// The message content of a queued file, as `postcat -bh` shows it,
/// without our Received: header (which names the queue ID).
fn queued_content(inst: &Instance, id: &str) -> String {
    let etc = inst.etc.display().to_string();
    let out = inst
        .run("postcat", &["-c", &etc, "-bh", "-q", id])
        .success();
    let text = out.stdout;
    let mut lines = text.lines().peekable();
    let mut kept = String::new();
    while let Some(l) = lines.next() {
        if l.starts_with("Received:") {
            while lines.peek().is_some_and(|n| n.starts_with([' ', '\t'])) {
                lines.next();
            }
            continue;
        }
        kept.push_str(l);
        kept.push('\n');
    }
    kept
}

#[test]
fn bdat_content_is_the_bytes_sent_with_line_ends_normalized() {
    // Every message is held, so that it can be read back from the queue.
    let mut inst = instance(
        "bdat-content",
        "smtpd_discard_ehlo_keywords = etrn\n\
         smtpd_client_restrictions = check_client_access static:HOLD\n",
    );
    let mut s = TcpStream::connect(("127.0.0.1", inst.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = Vec::new();
    read_reply(&mut s, &mut buf);
    let command = |s: &mut TcpStream, buf: &mut Vec<u8>, line: &str| {
        s.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        read_reply(s, buf)
    };
    let ehlo = command(&mut s, &mut buf, "EHLO client.example");
    assert!(ehlo.iter().any(|l| l.ends_with("CHUNKING")), "{ehlo:?}");

    // Chunk boundaries fall between CR and LF and inside lines; a dot
    // line is content, and so are a bare CR and a bare LF.
    let chunks: [&[u8]; 3] = [
        b"Subject: chunks\r",
        b"\n\r\nfirst line\r\n.\r\n..two dots",
        b"\r\nbare\rcr and bare\nlf\r\n",
    ];
    command(&mut s, &mut buf, "MAIL FROM:<sender@client.example>");
    command(&mut s, &mut buf, "RCPT TO:<root@test.example>");
    let reply = send_bdat(&mut s, &mut buf, &chunks);
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    assert!(
        reply[0].starts_with(&format!("250 2.0.0 Ok: {total} bytes queued as ")),
        "{reply:?}"
    );
    let id = queued_id(&reply);
    let content = queued_content(&inst, &id);
    // cleanup(8) adds Message-Id:, Date: and From: for a local client.
    assert!(content.starts_with("Subject: chunks\n"), "{content:?}");
    assert!(
        content.ends_with("\n\nfirst line\n.\n..two dots\nbare\rcr and bare\nlf\n"),
        "{content:?}"
    );

    // A message without a final line end gets one, and its size counts it.
    command(&mut s, &mut buf, "MAIL FROM:<sender@client.example>");
    command(&mut s, &mut buf, "RCPT TO:<root@test.example>");
    let reply = send_bdat(
        &mut s,
        &mut buf,
        &[b"Subject: x\r\n\r\n", b"no final line end"],
    );
    assert!(
        reply[0].starts_with("250 2.0.0 Ok: 33 bytes queued as "),
        "{reply:?}"
    );
    let content = queued_content(&inst, &queued_id(&reply));
    assert!(content.ends_with("\n\nno final line end\n"), "{content:?}");

    // The same message by DATA and by BDAT is queued the same.
    command(&mut s, &mut buf, "MAIL FROM:<sender@client.example>");
    command(&mut s, &mut buf, "RCPT TO:<root@test.example>");
    command(&mut s, &mut buf, "DATA");
    let reply = command(&mut s, &mut buf, "Subject: same\r\n\r\n..dot\r\nend\r\n.");
    let by_data = queued_content(&inst, &queued_id(&reply));
    command(&mut s, &mut buf, "MAIL FROM:<sender@client.example>");
    command(&mut s, &mut buf, "RCPT TO:<root@test.example>");
    let reply = send_bdat(&mut s, &mut buf, &[b"Subject: same\r\n\r\n.dot\r\nend\r\n"]);
    let by_bdat = queued_content(&inst, &queued_id(&reply));
    let strip = |t: &str| -> String {
        t.lines()
            .filter(|l| !l.starts_with("Message-Id:") && !l.starts_with("Date:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&by_data), strip(&by_bdat));
    command(&mut s, &mut buf, "QUIT");
    // smtpd logs the disconnect line after its 221 reply.
    inst.wait_log("disconnect from", Duration::from_secs(10));
    inst.stop();
    let log = inst.log();
    assert!(!log.contains("panic"), "{log}");
    assert!(
        log.contains("ehlo=1 mail=4 rcpt=4 data=1 bdat=6 quit=1 commands=17"),
        "the disconnect line counts BDAT commands: {log}"
    );
}

#[test]
fn etrn_delivers_the_mail_deferred_for_a_destination() {
    let services = "bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
retry     unix  -       -       n       -       -       error
";
    let mut inst = Instance::builder("etrn-flush")
        .master_cf(&format!("{MINIMAL_MASTER_CF}{MASTER_CF}{services}"))
        .main_cf(
            "mydestination = $myhostname, localhost\n\
             default_transport = retry:4.4.1 host is down\n\
             fast_flush_domains = far.example\n",
        )
        .build();
    inst.start();
    assert!(inst.wait_log("daemon started", Duration::from_secs(10)));
    let mut s = TcpStream::connect(("127.0.0.1", inst.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = Vec::new();
    read_reply(&mut s, &mut buf);
    let mut say = |line: &str| -> Vec<String> {
        s.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        read_reply(&mut s, &mut buf)
    };
    let ehlo = say("EHLO client.example");
    assert!(ehlo.iter().any(|l| l.ends_with("ETRN")), "{ehlo:?}");
    say("MAIL FROM:<a@client.example>");
    say("RCPT TO:<r@far.example>");
    say("DATA");
    let queued = say("Subject: x\r\n\r\nbody\r\n.");
    assert!(
        queued[0].starts_with("250 2.0.0 Ok: queued as"),
        "{queued:?}"
    );
    assert!(
        inst.wait_log("status=deferred (host is down)", Duration::from_secs(20)),
        "{}",
        inst.log()
    );
    // The destination is up now; ETRN asks for its mail at once.
    inst.write_main_cf(&inst.main_cf().replace(
        "default_transport = retry:4.4.1 host is down",
        "default_transport = discard:delivered",
    ));
    inst.postfix(&["reload"]).success();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        say("ETRN other.example"),
        vec!["459 <other.example>: service unavailable"]
    );
    assert_eq!(say("ETRN far.example"), vec!["250 Queuing started"]);
    assert!(
        inst.wait_log("status=sent (delivered)", Duration::from_secs(20)),
        "{}",
        inst.log()
    );
    say("QUIT");
    inst.stop();
    let log = inst.log();
    assert!(log.contains("flush far.example: 1 message"), "{log}");
    assert!(!log.contains("panic"), "{log}");
}

#[test]
fn filter_redirect_and_bcc_actions_route_the_message() {
    let mut inst = instance(
        "access-route",
        "smtpd_sender_restrictions = check_sender_access inline:{\
         {f@client.example=FILTER discard:filtered}, \
         {r@client.example=REDIRECT other@test.example}, \
         {b@client.example=BCC copy@test.example}}\n\
         smtpd_end_of_data_restrictions = check_sender_access inline:{\
         {late@client.example=REDIRECT late@test.example}}\n",
    );
    let mut s = TcpStream::connect(("127.0.0.1", inst.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = Vec::new();
    read_reply(&mut s, &mut buf);
    let mut say = |line: &str| -> Vec<String> {
        s.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        read_reply(&mut s, &mut buf)
    };
    say("EHLO client.example");
    for sender in ["f", "r", "b", "late"] {
        say(&format!("MAIL FROM:<{sender}@client.example>"));
        say("RCPT TO:<root@test.example>");
        say("DATA");
        let reply = say("Subject: x\r\n\r\nbody\r\n.");
        assert!(reply[0].starts_with("250 2.0.0 Ok: queued"), "{reply:?}");
    }
    say("QUIT");
    let t = Duration::from_secs(20);
    for line in [
        "to=<root@test.example>, relay=none, delay=",
        "status=sent (filtered)",
        "to=<other@test.example>, orig_to=<root@test.example>",
        "to=<copy@test.example>",
        "to=<late@test.example>, orig_to=<root@test.example>",
    ] {
        assert!(inst.wait_log(line, t), "{line}: {}", inst.log());
    }
    inst.stop();
    let log = inst.log();
    assert!(
        log.contains(
            "NOQUEUE: filter: RCPT from localhost[127.0.0.1]: <f@client.example>: \
             Sender address triggers FILTER discard:filtered; from=<f@client.example> \
             to=<root@test.example> proto=ESMTP helo=<client.example>"
        ),
        "{log}"
    );
    assert!(log.contains(": redirect: END-OF-MESSAGE from"), "{log}");
    assert!(!log.contains("panic"), "{log}");
}

/// main.cf lines that turn TLS on with the test certificate.
fn tls_main_cf(level: &str) -> String {
    let d = testdata().display().to_string();
    format!(
        "smtpd_tls_security_level = {level}\n\
         smtpd_tls_chain_files = {d}/mx.key, {d}/mx-chain.pem\n\
         smtpd_tls_loglevel = 1\n"
    )
}

#[test]
fn starttls_with_python_smtplib_and_in_the_received_header() {
    let mut inst = instance(
        "starttls-smtplib",
        &format!(
            "{}smtpd_client_restrictions = check_client_access static:HOLD\n",
            tls_main_cf("may")
        ),
    );
    let script = format!(
        r#"
import smtplib, ssl
ctx = ssl.create_default_context(cafile="{ca}")
s = smtplib.SMTP("127.0.0.1", {port}, local_hostname="client.example")
s.ehlo()
assert s.has_extn("starttls"), s.esmtp_features
# The certificate names mx.example.test: check it under that name.
s._host = "mx.example.test"
s.starttls(context=ctx)
s.ehlo()
assert not s.has_extn("starttls"), s.esmtp_features
s.sendmail("a@client.example", ["root@test.example"], "Subject: tls\r\n\r\nbody\r\n")
s.quit()
"#,
        ca = testdata().join("ca.pem").display(),
        port = inst.port
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        inst.log()
    );
    assert!(
        inst.wait_log("disconnect from", Duration::from_secs(10)),
        "{}",
        inst.log()
    );
    let etc = inst.etc.display().to_string();
    let ids = inst.run("postqueue", &["-c", &etc, "-j"]).success().stdout;
    let id = ids
        .split("\"queue_id\": \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no held message: {ids}"))
        .to_string();
    let content = queued_content_with_received(&inst, &id);
    assert!(
        content.contains(&format!("by test.example (Postfix) with ESMTPS id {id}")),
        "{content}"
    );
    inst.stop();
    let log = inst.log();
    assert!(
        log.contains(
            "Anonymous TLS connection established from localhost[127.0.0.1]: TLSv1.3 with cipher"
        ),
        "{log}"
    );
    assert!(log.contains("starttls=1"), "{log}");
}

/// The content of a queued message as `postcat -bh` shows it.
fn queued_content_with_received(inst: &Instance, id: &str) -> String {
    let etc = inst.etc.display().to_string();
    inst.run("postcat", &["-c", &etc, "-bh", "-q", id])
        .success()
        .stdout
}

#[test]
fn plaintext_pipelined_after_starttls_is_never_a_command() {
    let mut inst = instance("starttls-inject", &tls_main_cf("may"));
    let mut s = TcpStream::connect(("127.0.0.1", inst.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = Vec::new();
    read_reply(&mut s, &mut buf);
    s.write_all(b"EHLO client.example\r\n").unwrap();
    read_reply(&mut s, &mut buf);
    s.write_all(b"STARTTLS\r\nMAIL FROM:<evil@client.example>\r\n")
        .unwrap();
    assert_eq!(
        read_reply(&mut s, &mut buf),
        vec!["220 2.0.0 Ready to start TLS"]
    );
    // The injected line is handshake data now: the handshake fails and
    // the server hangs up without answering it.
    assert_eq!(read_reply(&mut s, &mut buf), vec!["(closed)"]);
    assert!(inst.wait_log("disconnect from", Duration::from_secs(10)));
    inst.stop();
    let log = inst.log();
    assert!(
        log.contains("SSL_accept error from localhost[127.0.0.1]"),
        "{log}"
    );
    assert!(log.contains("ehlo=1 starttls=0/1 commands=1/2"), "{log}");
}

#[test]
fn wrapper_mode_speaks_tls_from_the_first_byte() {
    let mut inst = instance(
        "tls-wrapper",
        &format!("{}smtpd_tls_wrappermode = yes\n", tls_main_cf("may")),
    );
    let tcp = TcpStream::connect(("127.0.0.1", inst.port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut s = Conn::Plain(tcp).start_tls();
    let mut buf = Vec::new();
    assert_eq!(
        read_reply(&mut s, &mut buf),
        vec!["220 test.example ESMTP Postfix"]
    );
    s.write_all(b"EHLO client.example\r\n").unwrap();
    let ehlo = read_reply(&mut s, &mut buf);
    assert!(!ehlo.iter().any(|l| l.contains("STARTTLS")), "{ehlo:?}");
    s.write_all(b"STARTTLS\r\n").unwrap();
    assert_eq!(
        read_reply(&mut s, &mut buf),
        vec!["554 5.5.1 Error: TLS already active"]
    );
    s.write_all(b"QUIT\r\n").unwrap();
    assert_eq!(read_reply(&mut s, &mut buf), vec!["221 2.0.0 Bye"]);
    inst.stop();
}

#[test]
fn required_tls_without_a_certificate_takes_no_mail() {
    let mut inst = instance(
        "tls-nocert",
        "smtpd_tls_security_level = encrypt\nsmtpd_tls_cert_file = /nonexistent/cert.pem\n",
    );
    let mut s = TcpStream::connect(("127.0.0.1", inst.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = Vec::new();
    read_reply(&mut s, &mut buf);
    let mut say = |line: &str| -> Vec<String> {
        s.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        read_reply(&mut s, &mut buf)
    };
    say("EHLO client.example");
    assert_eq!(
        say("STARTTLS"),
        vec!["454 4.7.0 TLS not available due to local problem"]
    );
    assert_eq!(
        say("MAIL FROM:<a@client.example>"),
        vec!["530 5.7.0 Must issue a STARTTLS command first"]
    );
    say("QUIT");
    inst.stop();
    assert!(
        inst.log()
            .contains("warning: TLS is not available: cannot load /nonexistent/cert.pem"),
        "{}",
        inst.log()
    );
}
