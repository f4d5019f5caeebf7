//! End-to-end tests of smtp(8), lmtp(8) and scache(8): private instances
//! that take mail with sendmail(1) and deliver it to real and scripted
//! servers on loopback.
//!
//! Peers: a scriptable server in this file's `peer` module (per-recipient
//! replies, dropped connections, slow replies, STARTTLS); Python's
//! aiosmtpd with STARTTLS and AUTH as a smarthost; Debian's Dovecot for
//! LMTP; a private DNS server (Python dnslib) for MX lookups; unbound
//! with a signed zone for DANE. Tests whose peer software is missing
//! say so and pass without checking (`.ci/run` installs it).

#[path = "smtp/peer.rs"]
mod peer;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use peer::{Behavior, Peer};
use testkit::{Instance, MINIMAL_MASTER_CF, wait_for};

const T: Duration = Duration::from_secs(20);

const MASTER_CF: &str = "pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
flush     unix  n       -       n       1000?   0       flush
showq     unix  n       -       n       -       -       showq
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
        -o syslog_name=postfix/$service_name
lmtp      unix  -       -       n       -       -       lmtp
scache    unix  -       -       n       -       1       scache
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
";

fn instance(name: &str, main: &str) -> Instance {
    let inst = Instance::builder(name)
        .master_cf(&format!("{MINIMAL_MASTER_CF}{MASTER_CF}"))
        .main_cf(main)
        .build();
    inst.start();
    assert!(inst.wait_log("daemon started", T), "{}", inst.log());
    inst
}

fn testdata(name: &str) -> PathBuf {
    testkit::repo_dir().join("crates/tls/testdata").join(name)
}

fn fixture(name: &str) -> PathBuf {
    testkit::repo_dir().join("tests/smtp").join(name)
}

/// Submits a message with sendmail.
fn sendmail(inst: &Instance, from: &str, to: &[&str], body: &str) {
    let mut args = vec!["-f", from];
    args.extend_from_slice(to);
    let mut child = inst
        .command("sendmail")
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sendmail");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "sendmail: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The delivery lines (`to=<...>`) of the log.
fn lines_for(inst: &Instance, rcpt: &str) -> Vec<String> {
    inst.log()
        .lines()
        .filter(|l| l.contains(&format!(": to=<{rcpt}>")))
        .map(String::from)
        .collect()
}

fn wait_line(inst: &Instance, rcpt: &str, status: &str) -> String {
    let pat = format!("status={status}");
    assert!(
        wait_for(T, || lines_for(inst, rcpt).iter().any(|l| l.contains(&pat))),
        "no {status} line for {rcpt}:\n{}",
        inst.log()
    );
    lines_for(inst, rcpt)
        .into_iter()
        .rfind(|l| l.contains(&pat))
        .unwrap()
}

fn flush(inst: &Instance) {
    let r = inst.run("postqueue", &["-f"]);
    assert_eq!(r.code, 0, "postqueue -f: {}", r.stderr);
}

fn queue_empty(inst: &Instance) -> bool {
    ["incoming", "active", "deferred", "maildrop"]
        .iter()
        .all(|q| count_files(&inst.spool().join(q)) == 0)
}

fn count_files(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() { count_files(&p) } else { 1 }
        })
        .sum()
}

fn no_trouble(inst: &Instance) {
    let log = inst.log();
    for bad in ["fatal:", "panic:"] {
        assert!(!log.contains(bad), "{bad} in the log:\n{log}");
    }
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn have_python_module(m: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {m}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn relayhost_delivery_logs_like_postfix() {
    let peer = Peer::start(Behavior::default());
    let mut inst = instance(
        "smtprelay",
        &format!("relayhost = [127.0.0.1]:{}\n", peer.port),
    );
    sendmail(
        &inst,
        "sender@test.example",
        &["rcpt@far.example"],
        "Subject: hello\n\n.leading dot\nbody\n",
    );
    let line = wait_line(&inst, "rcpt@far.example", "sent");
    assert!(line.contains("postfix/smtp["), "{line}");
    assert!(
        line.contains(&format!(
            ", relay=127.0.0.1[127.0.0.1]:{}, delay=",
            peer.port
        )),
        "{line}"
    );
    assert!(line.contains(", delays="), "{line}");
    assert!(
        line.ends_with(", dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as PEER1)"),
        "{line}"
    );
    let t = peer.transactions();
    assert_eq!(t.len(), 1);
    assert!(
        t[0].mail.starts_with("<sender@test.example> SIZE="),
        "{}",
        t[0].mail
    );
    let data = String::from_utf8_lossy(&t[0].data);
    assert!(data.contains("\r\n.leading dot\r\n"), "{data}");
    assert!(wait_for(T, || queue_empty(&inst)));
    no_trouble(&inst);
    inst.stop();
}

/// Kills every smtp(8) process of the instance (they are ours).
fn kill_smtp(inst: &Instance) -> usize {
    let mut n = 0;
    for p in inst.processes() {
        if p.program() == "smtp" {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            n += 1;
        }
    }
    n
}

#[test]
fn a_4xx_for_one_recipient_defers_only_that_one() {
    let peer = Peer::start(Behavior {
        rcpt: std::sync::Arc::new(|a: &str| {
            if a.starts_with("later@") {
                format!("450 4.2.0 <{a}>: Recipient address rejected: try again later")
            } else {
                "250 2.1.5 Ok".into()
            }
        }),
        ..Behavior::default()
    });
    let mut inst = instance(
        "smtp4xx",
        &format!("relayhost = [127.0.0.1]:{}\n", peer.port),
    );
    sendmail(
        &inst,
        "s@test.example",
        &["ok@far.example", "later@far.example"],
        "Subject: two\n\nhi\n",
    );
    wait_line(&inst, "ok@far.example", "sent");
    let line = wait_line(&inst, "later@far.example", "deferred");
    assert!(
        line.ends_with(&format!(
            ", dsn=4.2.0, status=deferred (host 127.0.0.1[127.0.0.1] said: 450 4.2.0 \
             <later@far.example>: Recipient address rejected: try again later \
             (in reply to RCPT TO command))"
        )),
        "{line}"
    );
    assert!(line.contains(&format!("relay=127.0.0.1[127.0.0.1]:{}", peer.port)));
    // The server changes its mind; the queue is flushed.
    peer.set(|b| b.rcpt = std::sync::Arc::new(|_| "250 2.1.5 Ok".into()));
    flush(&inst);
    wait_line(&inst, "later@far.example", "sent");
    assert!(wait_for(T, || queue_empty(&inst)));
    assert_eq!(
        peer.acked("ok@far.example"),
        1,
        "no duplicate for the one that went"
    );
    assert_eq!(peer.acked("later@far.example"), 1);
    no_trouble(&inst);
    inst.stop();
}

#[test]
fn a_smarthost_that_is_down_defers_until_postqueue_f() {
    // A port with nothing behind it, for now.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let mut inst = instance("smtpdown", &format!("relayhost = [127.0.0.1]:{port}\n"));
    sendmail(
        &inst,
        "s@test.example",
        &["u@far.example"],
        "Subject: x\n\nwait\n",
    );
    let line = wait_line(&inst, "u@far.example", "deferred");
    assert!(
        line.contains(", relay=none, delay=")
            && line.ends_with(&format!(
                ", dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:{port}: Connection refused)"
            )),
        "{line}"
    );
    assert!(
        inst.log().contains(&format!(
            "connect to 127.0.0.1[127.0.0.1]:{port}: Connection refused"
        )),
        "{}",
        inst.log()
    );
    assert!(wait_for(T, || count_files(&inst.spool().join("deferred")) == 1));
    // The smarthost comes back.
    let peer = Peer::start_on(
        std::net::TcpListener::bind(("127.0.0.1", port)).unwrap(),
        Behavior::default(),
    );
    flush(&inst);
    wait_line(&inst, "u@far.example", "sent");
    assert!(wait_for(T, || queue_empty(&inst)));
    assert_eq!(peer.acked("u@far.example"), 1);
    no_trouble(&inst);
    inst.stop();
}

#[test]
fn a_connection_lost_after_the_data_defers_and_may_repeat() {
    let peer = Peer::start(Behavior {
        drop_after_data: true,
        ..Behavior::default()
    });
    let mut inst = instance(
        "smtpdrop",
        &format!("relayhost = [127.0.0.1]:{}\n", peer.port),
    );
    sendmail(
        &inst,
        "s@test.example",
        &["u@far.example"],
        "Subject: x\n\nbody\n",
    );
    let line = wait_line(&inst, "u@far.example", "deferred");
    assert!(
        line.ends_with(
            ", dsn=4.4.2, status=deferred (lost connection with 127.0.0.1[127.0.0.1] \
             while sending end of data -- message may be sent more than once)"
        ),
        "{line}"
    );
    peer.set(|b| b.drop_after_data = false);
    flush(&inst);
    wait_line(&inst, "u@far.example", "sent");
    assert!(wait_for(T, || queue_empty(&inst)));
    // Nothing lost; the one duplicate is the one RFC 5321 allows (the
    // reply to the end of data never came).
    assert_eq!(peer.received("u@far.example"), 2);
    assert_eq!(peer.acked("u@far.example"), 1);
    no_trouble(&inst);
    inst.stop();
}

#[test]
fn kill_9_of_the_client_loses_no_recipient() {
    let peer = Peer::start(Behavior {
        rcpt_delay: Duration::from_secs(2),
        ..Behavior::default()
    });
    let mut inst = instance(
        "smtpkill",
        &format!("relayhost = [127.0.0.1]:{}\n", peer.port),
    );
    // Killed while it waits for the RCPT replies: before the data.
    sendmail(
        &inst,
        "s@test.example",
        &["a@far.example", "b@far.example"],
        "Subject: x\n\nbody\n",
    );
    assert!(wait_for(T, || peer
        .seen
        .lock()
        .unwrap()
        .commands
        .iter()
        .any(|c| c.starts_with("RCPT TO:<b@"))));
    assert!(kill_smtp(&inst) >= 1);
    peer.set(|b| b.rcpt_delay = Duration::ZERO);
    assert!(
        wait_for(T, || count_files(&inst.spool().join("deferred")) == 1),
        "{}",
        inst.log()
    );
    flush(&inst);
    wait_line(&inst, "a@far.example", "sent");
    wait_line(&inst, "b@far.example", "sent");
    assert!(wait_for(T, || queue_empty(&inst)));
    for r in ["a@far.example", "b@far.example"] {
        assert_eq!(peer.received(r), 1, "{r}: delivered exactly once");
        assert_eq!(peer.acked(r), 1, "{r}");
    }
    // Killed while it waits for the reply to the end of data: the
    // message may arrive twice, never zero times.
    peer.set(|b| b.data_delay = Duration::from_secs(3));
    sendmail(
        &inst,
        "s@test.example",
        &["c@far.example"],
        "Subject: y\n\nbody\n",
    );
    assert!(wait_for(T, || peer.received("c@far.example") == 1));
    assert!(kill_smtp(&inst) >= 1);
    peer.set(|b| b.data_delay = Duration::ZERO);
    assert!(
        wait_for(T, || count_files(&inst.spool().join("deferred")) == 1),
        "{}",
        inst.log()
    );
    flush(&inst);
    wait_line(&inst, "c@far.example", "sent");
    assert!(wait_for(T, || queue_empty(&inst)));
    let got = peer.received("c@far.example");
    assert!((1..=2).contains(&got), "{got}");
    inst.stop();
}

#[test]
fn connections_are_reused_through_scache() {
    let peer = Peer::start(Behavior::default());
    let mut inst = instance(
        "smtpcache",
        &format!(
            "relayhost = [127.0.0.1]:{p}\nsmtp_connection_cache_destinations = [127.0.0.1]:{p}\n\
             smtp_connection_cache_time_limit = 10s\nconnection_cache_ttl_limit = 10s\n\
             smtp_connection_reuse_count_limit = 3\n",
            p = peer.port
        ),
    );
    for i in 0..4 {
        let to = format!("u{i}@far.example");
        sendmail(&inst, "s@test.example", &[&to], "Subject: x\n\nbody\n");
        wait_line(&inst, &to, "sent");
    }
    assert_eq!(peer.transactions().len(), 4);
    // Three transactions on the first connection, then a new one.
    assert_eq!(peer.connections(), 2, "{}", inst.log());
    let quits = peer
        .seen
        .lock()
        .unwrap()
        .commands
        .iter()
        .filter(|c| *c == "QUIT")
        .count();
    assert_eq!(quits, 1, "the connection at its limit ends with QUIT");
    no_trouble(&inst);
    inst.stop();
}

#[test]
fn lmtp_gives_one_result_per_recipient() {
    let peer = Peer::start(Behavior {
        lmtp: true,
        data: std::sync::Arc::new(|a: &str| {
            if a.starts_with("full@") {
                format!("452 4.2.2 <{a}> Mailbox is full")
            } else {
                format!("250 2.0.0 <{a}> Saved")
            }
        }),
        ..Behavior::default()
    });
    let mut inst = instance(
        "lmtppeer",
        &format!("default_transport = lmtp:inet:127.0.0.1:{}\n", peer.port),
    );
    sendmail(
        &inst,
        "s@test.example",
        &["ok@far.example", "full@far.example"],
        "Subject: x\n\nbody\n",
    );
    let ok = wait_line(&inst, "ok@far.example", "sent");
    assert!(ok.contains("postfix/lmtp["), "{ok}");
    assert!(
        ok.ends_with("dsn=2.0.0, status=sent (250 2.0.0 <ok@far.example> Saved)"),
        "{ok}"
    );
    let full = wait_line(&inst, "full@far.example", "deferred");
    assert!(
        full.ends_with(&format!(
            "dsn=4.2.2, status=deferred (host 127.0.0.1[127.0.0.1] said: 452 4.2.2 \
             <full@far.example> Mailbox is full (in reply to end of DATA command))"
        )),
        "{full}"
    );
    assert!(
        peer.seen
            .lock()
            .unwrap()
            .commands
            .iter()
            .any(|c| c.starts_with("LHLO "))
    );
    no_trouble(&inst);
    inst.stop();
}

#[test]
fn eight_bit_mail_is_downgraded_for_a_seven_bit_server_and_size_is_honoured() {
    let peer = Peer::start(Behavior {
        features: vec!["PIPELINING".into(), "SIZE 2000".into()],
        ..Behavior::default()
    });
    let mut inst = instance(
        "smtp8bit",
        &format!("relayhost = [127.0.0.1]:{}\n", peer.port),
    );
    sendmail(
        &inst,
        "s@test.example",
        &["u@far.example"],
        "Subject: x\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\
         Content-Transfer-Encoding: 8bit\n\nGr\u{fc}\u{df}e\n",
    );
    wait_line(&inst, "u@far.example", "sent");
    let t = peer.transactions();
    let data = String::from_utf8_lossy(&t[0].data).into_owned();
    assert!(
        data.contains("Content-Transfer-Encoding: quoted-printable"),
        "{data}"
    );
    assert!(data.contains("Gr=C3=BC=C3=9Fe"), "{data}");
    assert!(!t[0].mail.contains("BODY=8BITMIME"), "{}", t[0].mail);
    // Too big for the server's SIZE: bounced.
    let big = format!("Subject: big\n\n{}\n", "x".repeat(3000));
    sendmail(&inst, "s@test.example", &["big@far.example"], &big);
    let line = wait_line(&inst, "big@far.example", "bounced");
    assert!(
        line.contains("dsn=5.3.4, status=bounced (message size "),
        "{line}"
    );
    assert!(
        line.ends_with("exceeds size limit 2000 of server 127.0.0.1[127.0.0.1])"),
        "{line}"
    );
    inst.stop();
}

/// The aiosmtpd smarthost (tests/smtp/smarthost.py), if Python has it.
fn smarthost(user: &str, password: &str) -> Option<(Proc, u16, PathBuf)> {
    if !have_python_module("aiosmtpd") {
        eprintln!("aiosmtpd is not installed: skipping (see .ci/run)");
        return None;
    }
    let port = testkit::free_port();
    let out = std::env::temp_dir().join(format!("smarthost-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let mut child = Command::new("python3")
        .arg(fixture("smarthost.py"))
        .arg(port.to_string())
        .arg(testdata("mx.pem"))
        .arg(testdata("mx.key"))
        .args([user, password])
        .arg(&out)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start smarthost.py");
    let mut first = String::new();
    let stdout = child.stdout.take().unwrap();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut first).unwrap();
    assert_eq!(first.trim(), "ready");
    Some((Proc(child), port, out))
}

fn smarthost_main_cf(inst_etc: &Path, port: u16, user: &str, password: &str, tls: &str) -> String {
    let sasl = inst_etc.join("sasl_passwd");
    std::fs::write(&sasl, format!("[127.0.0.1]:{port} {user}:{password}\n")).unwrap();
    format!(
        "relayhost = [127.0.0.1]:{port}\n\
         smtp_sasl_auth_enable = yes\n\
         smtp_sasl_password_maps = texthash:{}\n\
         smtp_sasl_security_options = noanonymous\n\
         smtp_tls_loglevel = 1\n\
         smtp_tls_CAfile = {}\n{tls}",
        sasl.display(),
        testdata("ca.pem").display()
    )
}

#[test]
fn a_satellite_relays_through_a_smarthost_with_starttls_and_auth() {
    let Some((_sh, port, out)) = smarthost("sat", "s3cret") else {
        return;
    };
    let mut inst = Instance::builder("smarthost")
        .master_cf(&format!("{MINIMAL_MASTER_CF}{MASTER_CF}"))
        .build();
    let main = smarthost_main_cf(
        &inst.etc,
        port,
        "sat",
        "s3cret",
        &format!(
            "smtp_tls_security_level = may\n\
             smtp_tls_policy_maps = inline:{{ {{ [127.0.0.1]:{port} = secure match=mx.example.test }} }}\n"
        ),
    );
    inst.write_main_cf(&format!("{}{main}", inst.main_cf()));
    inst.start();
    sendmail(
        &inst,
        "laptop@test.example",
        &["friend@far.example"],
        "Subject: via the smarthost\n\nhello\n",
    );
    let line = wait_line(&inst, "friend@far.example", "sent");
    assert!(
        line.contains(&format!("relay=127.0.0.1[127.0.0.1]:{port}, ")),
        "{line}"
    );
    assert!(
        line.ends_with("dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as SMART1)"),
        "{line}"
    );
    let log = inst.log();
    let tls_line = log
        .lines()
        .find(|l| l.contains("TLS connection established to"))
        .unwrap_or_else(|| panic!("no TLS line:\n{log}"));
    assert!(
        tls_line.contains(&format!(
            "postfix/smtp[{}]: Verified TLS connection established to \
             127.0.0.1[127.0.0.1]:{port}: TLSv1.3 with cipher TLS_",
            tls_line
                .split("postfix/smtp[")
                .nth(1)
                .and_then(|r| r.split(']').next())
                .unwrap_or("")
        )),
        "{tls_line}"
    );
    let env = std::fs::read_to_string(out.join("1.env")).unwrap();
    assert!(
        env.contains("tls=True") && env.contains("auth=True"),
        "{env}"
    );
    let msg = std::fs::read_to_string(out.join("1.eml")).unwrap();
    assert!(msg.contains("Subject: via the smarthost"), "{msg}");
    no_trouble(&inst);
    inst.stop();
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_refused_password_defers_with_the_servers_words() {
    let Some((_sh, port, out)) = smarthost("sat", "right") else {
        return;
    };
    let mut inst = Instance::builder("smarthostauth")
        .master_cf(&format!("{MINIMAL_MASTER_CF}{MASTER_CF}"))
        .build();
    let main = smarthost_main_cf(
        &inst.etc,
        port,
        "sat",
        "wrong",
        "smtp_tls_security_level = may\n",
    );
    inst.write_main_cf(&format!("{}{main}", inst.main_cf()));
    inst.start();
    sendmail(
        &inst,
        "laptop@test.example",
        &["friend@far.example"],
        "Subject: x\n\nx\n",
    );
    let line = wait_line(&inst, "friend@far.example", "deferred");
    assert!(
        line.ends_with(
            "dsn=4.7.8, status=deferred (SASL authentication failed; server 127.0.0.1[127.0.0.1] \
             said: 535 5.7.8 Authentication credentials invalid)"
        ),
        "{line}"
    );
    // TLS was trusted (the CA file has the issuer) but names were not
    // checked at level may.
    assert!(
        inst.log().contains(&format!(
            "Trusted TLS connection established to 127.0.0.1[127.0.0.1]:{port}: TLSv1.3"
        )),
        "{}",
        inst.log()
    );
    inst.stop();
    let _ = std::fs::remove_dir_all(&out);
}

/// Waits until something listens on 127.0.0.1:port.
fn wait_port(port: u16) -> bool {
    wait_for(T, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
}

/// The dnslib server (tests/smtp/dns.py) with `zone`, if Python has it.
fn dns_server(dir: &Path, zone: &str) -> Option<(Proc, u16)> {
    if !have_python_module("dnslib") {
        eprintln!("dnslib is not installed: skipping (see .ci/run)");
        return None;
    }
    let port = testkit::free_port();
    let file = dir.join("zone");
    std::fs::write(&file, zone).unwrap();
    let mut child = Command::new("python3")
        .arg(fixture("dns.py"))
        .arg(port.to_string())
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start dns.py");
    let mut first = String::new();
    let stdout = child.stdout.take().unwrap();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut first).unwrap();
    assert_eq!(first.trim(), "ready");
    Some((Proc(child), port))
}

/// main.cf lines that point the instance's resolver at a private server.
fn use_dns(port: u16) -> String {
    format!(
        "import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C \
         MTA_DNS_SERVERS=127.0.0.1:{port}\n"
    )
}

#[test]
fn mx_lookup_skips_a_dead_first_mx_and_honours_null_mx() {
    let peer = Peer::start(Behavior::default());
    let dir = std::env::temp_dir().join(format!("smtp-mx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let zone = "example.test. 60 IN MX 10 mx1.example.test.\n\
                example.test. 60 IN MX 20 mx2.example.test.\n\
                mx1.example.test. 60 IN A 127.0.0.2\n\
                mx2.example.test. 60 IN A 127.0.0.1\n\
                nomx.test. 60 IN A 127.0.0.1\n\
                nullmx.test. 60 IN MX 0 .\n";
    let Some((_dns, dns_port)) = dns_server(&dir, zone) else {
        return;
    };
    let mut inst = instance(
        "smtpmx",
        &format!("smtp_tcp_port = {}\n{}", peer.port, use_dns(dns_port)),
    );
    sendmail(
        &inst,
        "s@test.example",
        &[
            "u@example.test",
            "v@nomx.test",
            "w@nullmx.test",
            "x@nx.test",
        ],
        "Subject: mx\n\nbody\n",
    );
    let p = peer.port;
    let u = wait_line(&inst, "u@example.test", "sent");
    assert!(
        u.contains(&format!(", relay=mx2.example.test[127.0.0.1]:{p}, ")),
        "{u}"
    );
    assert!(
        inst.log().contains(&format!(
            "connect to mx1.example.test[127.0.0.2]:{p}: Connection refused"
        )),
        "{}",
        inst.log()
    );
    let v = wait_line(&inst, "v@nomx.test", "sent");
    assert!(
        v.contains(&format!(", relay=nomx.test[127.0.0.1]:{p}, ")),
        "{v}"
    );
    let w = wait_line(&inst, "w@nullmx.test", "bounced");
    assert!(
        w.contains(", relay=none, ")
            && w.ends_with(
                "dsn=5.1.0, status=bounced (Domain nullmx.test does not accept mail (nullMX))"
            ),
        "{w}"
    );
    let x = wait_line(&inst, "x@nx.test", "bounced");
    assert!(
        x.ends_with(
            "dsn=5.4.4, status=bounced (Host or domain name not found. Name service error \
             for name=nx.test type=MX: Host not found)"
        ),
        "{x}"
    );
    no_trouble(&inst);
    inst.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// unbound validating a zone signed here with ldns, if they are
/// installed: the resolver a DANE client trusts for the AD bit.
fn unbound(dir: &Path, origin: &str, zone: &str) -> Option<(Proc, u16)> {
    if !(have("unbound") && have("ldns-keygen") && have("ldns-signzone")) {
        eprintln!("unbound or ldnsutils are not installed: skipping (see .ci/run)");
        return None;
    }
    let run = |args: &[&str]| -> String {
        let o = Command::new(args[0])
            .args(&args[1..])
            .current_dir(dir)
            .output()
            .expect("run ldns tool");
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    std::fs::write(dir.join("zone"), zone).unwrap();
    let ksk = run(&["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", origin]);
    let zsk = run(&["ldns-keygen", "-a", "ECDSAP256SHA256", origin]);
    run(&["ldns-signzone", "-n", "-o", origin, "zone", &ksk, &zsk]);
    let ds = std::fs::read_to_string(dir.join(format!("{ksk}.ds")))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let port = testkit::free_port();
    let conf = format!(
        "server:\n  interface: 127.0.0.1@{port}\n  port: {port}\n  do-ip6: no\n  \
         do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  \
         pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n  verbosity: 0\n  \
         do-not-query-localhost: no\n  module-config: \"validator iterator\"\n  \
         trust-anchor: \"{ds}\"\n  access-control: 127.0.0.0/8 allow\n  \
         local-zone: \"test.\" nodefault\n\
         auth-zone:\n  name: \"{origin}\"\n  zonefile: \"{d}/zone.signed\"\n  \
         for-upstream: yes\n  for-downstream: no\n  fallback-enabled: no\n",
        d = dir.display()
    );
    std::fs::write(dir.join("unbound.conf"), conf).unwrap();
    let child = Command::new("unbound")
        .arg("-c")
        .arg(dir.join("unbound.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start unbound");
    let p = Proc(child);
    assert!(wait_port(port), "unbound did not start");
    Some((p, port))
}

#[test]
fn dane_verifies_the_server_against_its_tlsa_record() {
    let dir = std::env::temp_dir().join(format!("smtp-dane-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let peer = Peer::start(Behavior {
        tls: Some((testdata("mx.pem"), testdata("mx.key"))),
        ..Behavior::default()
    });
    let p = peer.port;
    let cert = std::fs::read_to_string(testdata("mx.pem")).unwrap();
    let b64: String = cert.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64_decode(&b64);
    let good = tls::dane::Tlsa::for_cert(3, 1, 1, &der).unwrap().to_text();
    let zone = format!(
        "$ORIGIN dane.test.\n$TTL 60\n\
         @ IN SOA ns hostmaster 1 3600 600 86400 60\n@ IN NS ns\nns IN A 127.0.0.1\n\
         @ IN MX 10 mx\nmx IN A 127.0.0.1\n_{p}._tcp.mx IN TLSA {good}\n\
         bad IN MX 10 mxbad\nmxbad IN A 127.0.0.1\n\
         _{p}._tcp.mxbad IN TLSA 3 1 1 {zero}\n\
         plain IN MX 10 mxplain\nmxplain IN A 127.0.0.1\n",
        zero = "00".repeat(32)
    );
    let Some((_unbound, dns_port)) = unbound(&dir, "dane.test", &zone) else {
        return;
    };
    let mut inst = instance(
        "smtpdane",
        &format!(
            "smtp_tcp_port = {p}\n{}smtp_dns_support_level = dnssec\n\
             smtp_tls_security_level = dane\nsmtp_tls_loglevel = 1\n",
            use_dns(dns_port)
        ),
    );
    sendmail(
        &inst,
        "s@test.example",
        &["u@dane.test", "v@bad.dane.test", "w@plain.dane.test"],
        "Subject: dane\n\nbody\n",
    );
    let u = wait_line(&inst, "u@dane.test", "sent");
    assert!(
        u.contains(&format!(", relay=mx.dane.test[127.0.0.1]:{p}, ")),
        "{u}"
    );
    let log = inst.log();
    assert!(
        log.contains(&format!(
            ": Verified TLS connection established to mx.dane.test[127.0.0.1]:{p}: TLSv1.3 with cipher"
        )),
        "{log}"
    );
    let v = wait_line(&inst, "v@bad.dane.test", "deferred");
    assert!(
        v.ends_with("dsn=4.7.5, status=deferred (Server certificate not verified)"),
        "{v}"
    );
    assert!(
        inst.log().contains(&format!(
            "server certificate verification failed for mxbad.dane.test[127.0.0.1]:{p}: \
             num=65:No matching DANE TLSA records"
        )),
        "{}",
        inst.log()
    );
    // No TLSA record: opportunistic TLS, not verified.
    let w = wait_line(&inst, "w@plain.dane.test", "sent");
    assert!(w.contains("relay=mxplain.dane.test"), "{w}");
    assert!(
        inst.log().contains(&format!(
            "Untrusted TLS connection established to mxplain.dane.test[127.0.0.1]:{p}"
        )),
        "{}",
        inst.log()
    );
    assert!(peer.transactions().iter().all(|t| t.tls));
    no_trouble(&inst);
    inst.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

fn base64_decode(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let s: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::new();
    for q in s.chunks(4) {
        let mut n = 0u32;
        for &c in q {
            n = (n << 6) | A.iter().position(|&x| x == c).unwrap() as u32;
        }
        n <<= 6 * (4 - q.len() as u32);
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8][..q.len() - 1]);
    }
    out
}

/// A private Dovecot with LMTP on a TCP port and a unix socket, if it
/// is installed: (process, port, directory).
fn dovecot(dir: &Path) -> Option<(Proc, u16)> {
    if !have("dovecot") {
        eprintln!("dovecot is not installed: skipping (see .ci/run)");
        return None;
    }
    for d in ["run", "state", "mail"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dir.join("mail"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let port = testkit::free_port();
    let (user, group) = if testkit::is_root() {
        ("nobody", "nogroup")
    } else {
        eprintln!("dovecot needs root here: skipping");
        return None;
    };
    let d = dir.display();
    std::fs::write(
        dir.join("dovecot.conf"),
        format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
             protocols = lmtp\nlisten = 127.0.0.1\nssl = no\n\
             mail_location = maildir:{d}/mail/%n\n\
             userdb {{\n  driver = static\n  args = uid={user} gid={group} home={d}/mail/%n allow_all_users=yes\n}}\n\
             passdb {{\n  driver = static\n  args = nopassword=y\n}}\n\
             service lmtp {{\n  inet_listener lmtp {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  \
             unix_listener lmtp {{\n    mode = 0666\n  }}\n}}\n"
        ),
    )
    .unwrap();
    let child = Command::new("dovecot")
        .arg("-F")
        .arg("-c")
        .arg(dir.join("dovecot.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start dovecot");
    let p = Proc(child);
    assert!(wait_port(port), "dovecot did not start");
    Some((p, port))
}

fn maildir_messages(dir: &Path, user: &str) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir.join("mail").join(user).join("new")) else {
        return Vec::new();
    };
    rd.flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect()
}

#[test]
fn lmtp_delivers_into_dovecot_over_tcp_and_a_unix_socket() {
    let dir = std::env::temp_dir().join(format!("smtp-dovecot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let Some((_dc, port)) = dovecot(&dir) else {
        return;
    };
    let socket = dir.join("run/lmtp");
    let mut inst = instance(
        "lmtpdovecot",
        &format!(
            "transport_maps = inline:{{ tcp.example=lmtp:inet:127.0.0.1:{port}, \
             sock.example=lmtp:unix:{} }}\n",
            socket.display()
        ),
    );
    sendmail(
        &inst,
        "s@test.example",
        &["alice@tcp.example", "bob@tcp.example", "carol@sock.example"],
        "Subject: into dovecot\n\nhello dovecot\n",
    );
    for (rcpt, relay) in [
        (
            "alice@tcp.example",
            format!("relay=127.0.0.1[127.0.0.1]:{port}, "),
        ),
        (
            "bob@tcp.example",
            format!("relay=127.0.0.1[127.0.0.1]:{port}, "),
        ),
        (
            "carol@sock.example",
            format!("relay=test.example[{}], ", socket.display()),
        ),
    ] {
        let line = wait_line(&inst, rcpt, "sent");
        assert!(line.contains("postfix/lmtp["), "{line}");
        assert!(line.contains(&relay), "{line}");
        assert!(
            line.contains(&format!("status=sent (250 2.0.0 <{rcpt}> ")),
            "{line}"
        );
        assert!(line.ends_with(" Saved)"), "{line}");
    }
    for user in ["alice", "bob", "carol"] {
        let msgs = maildir_messages(&dir, user);
        assert_eq!(msgs.len(), 1, "{user}");
        assert!(msgs[0].contains("Subject: into dovecot"), "{}", msgs[0]);
        assert!(msgs[0].contains("hello dovecot"), "{}", msgs[0]);
    }
    no_trouble(&inst);
    inst.stop();
    drop(_dc);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn wrapper_mode_tls_for_a_port_465_smarthost() {
    let peer = Peer::start(Behavior {
        tls: Some((testdata("mx.pem"), testdata("mx.key"))),
        implicit_tls: true,
        ..Behavior::default()
    });
    let p = peer.port;
    let mut inst = instance(
        "smtpwrapper",
        &format!(
            "relayhost = [127.0.0.1]:{p}\nsmtp_tls_wrappermode = yes\n\
             smtp_tls_security_level = encrypt\nsmtp_tls_loglevel = 1\n"
        ),
    );
    sendmail(
        &inst,
        "s@test.example",
        &["u@far.example"],
        "Subject: x\n\n465\n",
    );
    wait_line(&inst, "u@far.example", "sent");
    assert!(
        inst.log().contains(&format!(
            "Untrusted TLS connection established to 127.0.0.1[127.0.0.1]:{p}: TLSv1.3"
        )),
        "{}",
        inst.log()
    );
    assert!(peer.transactions()[0].tls);
    inst.stop();
}

#[test]
fn fallback_relay_helo_fallback_and_dsn_parameters() {
    let peer = Peer::start(Behavior {
        no_ehlo: true,
        ..Behavior::default()
    });
    let dsn_peer = Peer::start(Behavior {
        features: vec!["PIPELINING".into(), "DSN".into(), "SMTPUTF8".into()],
        ..Behavior::default()
    });
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut inst = instance(
        "smtpfallback",
        &format!(
            "relayhost = [127.0.0.1]:{dead}\nsmtp_fallback_relay = [127.0.0.1]:{}\n\
             transport_maps = inline:{{ dsn.example=smtp:[127.0.0.1]:{} }}\n",
            peer.port, dsn_peer.port
        ),
    );
    sendmail(
        &inst,
        "s@test.example",
        &["u@far.example"],
        "Subject: x\n\nfb\n",
    );
    let line = wait_line(&inst, "u@far.example", "sent");
    assert!(
        line.contains(&format!("relay=127.0.0.1[127.0.0.1]:{}, ", peer.port)),
        "{line}"
    );
    assert!(
        inst.log().contains(&format!(
            "connect to 127.0.0.1[127.0.0.1]:{dead}: Connection refused"
        )),
        "{}",
        inst.log()
    );
    let cmds = peer.seen.lock().unwrap().commands.clone();
    assert!(cmds.iter().any(|c| c.starts_with("EHLO ")), "{cmds:?}");
    assert!(cmds.iter().any(|c| c.starts_with("HELO ")), "{cmds:?}");
    assert!(
        cmds.iter().any(|c| c == "MAIL FROM:<s@test.example>"),
        "no ESMTP parameters after HELO: {cmds:?}"
    );
    // A server with DSN gets NOTIFY and ORCPT; one with SMTPUTF8 gets it.
    let mut child = inst
        .command("sendmail")
        .args([
            "-f",
            "s@test.example",
            "-N",
            "success,failure",
            "d@dsn.example",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Subject: dsn\n\nx\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    wait_line(&inst, "d@dsn.example", "sent");
    let cmds = dsn_peer.seen.lock().unwrap().commands.clone();
    let rcpt = cmds.iter().find(|c| c.starts_with("RCPT TO:")).unwrap();
    assert!(rcpt.contains(" NOTIFY=SUCCESS,FAILURE"), "{rcpt}");
    no_trouble(&inst);
    inst.stop();
}
