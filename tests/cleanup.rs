//! End-to-end tests of cleanup(8): canonical and virtual alias maps,
//! masquerading, automatic BCC, header and body checks, content filters
//! and redirection, on private instances fed with sendmail(1), with the
//! discard agent delivering (its log lines show what qmgr(8) did) or with
//! no qmgr at all, so that the queue file cleanup wrote can be read.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use queue::{Layout, QueueFile, QueueId, RcptState};
use testkit::{Instance, MINIMAL_MASTER_CF, wait_for};

const T: Duration = Duration::from_secs(20);

const SUBMIT_CF: &str = "pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
rewrite   unix  -       -       n       -       -       trivial-rewrite
";

const DELIVER_CF: &str = "qmgr      unix  n       -       n       300     1       qmgr
discard   unix  -       -       n       -       -       discard
error     unix  -       -       n       -       -       error
";

/// An instance that delivers everything with the discard agent, or,
/// with `deliver` false, that has no qmgr: mail stays where cleanup put it.
fn instance(name: &str, main: &str, deliver: bool) -> Instance {
    let master = if deliver {
        format!("{MINIMAL_MASTER_CF}{SUBMIT_CF}{DELIVER_CF}")
    } else {
        format!("{MINIMAL_MASTER_CF}{SUBMIT_CF}")
    };
    Instance::builder(name)
        .master_cf(&master)
        .main_cf(&format!(
            "default_transport = discard:thrown away\nlocal_transport = discard:local mail\n{main}"
        ))
        .build()
}

fn start(inst: &Instance) {
    inst.start();
    assert!(inst.wait_log("daemon started", T), "{}", inst.log());
}

/// Writes a table source file into the instance's configuration
/// directory; `hash:` tables are built with our postmap(1).
fn table(inst: &Instance, kind: &str, name: &str, text: &str) -> String {
    let path = inst.etc.join(name);
    std::fs::write(&path, text).unwrap();
    let spec = format!("{kind}:{}", path.display());
    if kind == "hash" {
        inst.run("postmap", &[&spec]).success();
    }
    spec
}

/// Runs sendmail with `args` and `message` on stdin.
fn sendmail(inst: &Instance, args: &[&str], message: &str) -> (i32, String) {
    let mut child = inst
        .command("sendmail")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sendmail");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Sends and expects sendmail to succeed.
fn send(inst: &Instance, args: &[&str], message: &str) {
    let (code, err) = sendmail(inst, args, message);
    assert_eq!(code, 0, "sendmail {args:?}: {err}");
}

/// The queue IDs of the files in `queue`.
fn files(inst: &Instance, queue: &str) -> Vec<QueueId> {
    let mut out = Vec::new();
    let mut dirs = vec![inst.spool().join(queue)];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if let Some(id) = p
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(QueueId::parse)
            {
                out.push(id);
            }
        }
    }
    out
}

/// Waits for one queue file in `queue` and reads it: envelope and content.
fn read_queued(inst: &Instance, queue: &str) -> (queue::Envelope, String) {
    assert!(
        wait_for(T, || files(inst, queue).len() == 1),
        "no file in {queue}: {}",
        inst.log()
    );
    let id = files(inst, queue).remove(0);
    let layout = Layout::new(&inst.spool());
    let mut f = QueueFile::open(&layout, queue, &id).unwrap();
    assert!(wait_for(T, || f.is_complete().unwrap_or(false)));
    let env = f.read_envelope().unwrap();
    let mut content = String::new();
    std::io::Read::read_to_string(&mut f.content_reader(&env).unwrap(), &mut content).unwrap();
    (env, content)
}

/// The log lines of the discard agent, `to=<...>[, orig_to=<...>]`.
fn deliveries(inst: &Instance) -> Vec<String> {
    let mut out: Vec<String> = inst
        .log()
        .lines()
        .filter(|l| l.contains("postfix/discard["))
        .filter_map(|l| {
            let start = l.find("to=<")?;
            let end = l.find(", relay=")?;
            Some(l[start..end].to_string())
        })
        .collect();
    out.sort();
    out
}

fn queue_empty(inst: &Instance) -> bool {
    ["maildrop", "incoming", "active", "deferred", "hold"]
        .iter()
        .all(|q| files(inst, q).is_empty())
}

#[test]
fn canonical_and_virtual_aliases_show_in_the_delivery_log() {
    let inst = instance("canonvirt", "", true);
    let canonical = table(
        &inst,
        "hash",
        "canonical",
        "joe joe.user\n@olddomain.example @newdomain.example\n",
    );
    let sender_canonical = table(
        &inst,
        "hash",
        "sender_canonical",
        "s@x.example sender@canon.example\n",
    );
    let virtual_alias = table(
        &inst,
        "hash",
        "virtual",
        "list@far.example a@far.example, b@far.example, list@far.example\n\
         a@far.example a2@far.example\n\
         ext@far.example extuser@far.example\n",
    );
    let mut inst = inst;
    inst.write_main_cf(&format!(
        "{}canonical_maps = {canonical}\nsender_canonical_maps = {sender_canonical}\n\
         virtual_alias_maps = {virtual_alias}\nvirtual_alias_domains =\nrecipient_delimiter = +\n",
        inst.main_cf()
    ));
    start(&inst);
    send(
        &inst,
        &[
            "-f",
            "s@x.example",
            "root",
            "joe",
            "list@far.example",
            "ext+t@far.example",
            "u@olddomain.example",
        ],
        "Subject: aliases\n\nbody\n",
    );
    assert!(
        wait_for(T, || deliveries(&inst).len() == 7),
        "{}",
        inst.log()
    );
    let mut want = vec![
        "to=<a2@far.example>, orig_to=<list@far.example>",
        "to=<b@far.example>, orig_to=<list@far.example>",
        "to=<list@far.example>",
        "to=<extuser+t@far.example>, orig_to=<ext+t@far.example>",
        "to=<joe.user@test.example>, orig_to=<joe>",
        "to=<root@test.example>, orig_to=<root>",
        "to=<u@newdomain.example>, orig_to=<u@olddomain.example>",
    ];
    want.sort();
    assert_eq!(deliveries(&inst), want, "{}", inst.log());
    assert!(
        inst.log().contains("from=<sender@canon.example>, size="),
        "{}",
        inst.log()
    );
    assert!(wait_for(T, || queue_empty(&inst)));
    inst.stop();
}

#[test]
fn local_mail_is_written_as_postfix_writes_it() {
    let mut inst = instance(
        "localmail",
        "canonical_maps = inline:{ old@x.example=new@y.example }\n\
         masquerade_domains = !keep.sub.example sub.example\nmasquerade_exceptions = root\n",
        false,
    );
    start(&inst);
    send(
        &inst,
        &["-t", "-F", "Doe, John", "-f", "s@x.example"],
        "To: Joe <joe>, old@x.example (comment)\nCc: root@a.sub.example, u@a.sub.example,\n   zz@b.example\n\
         Bcc: hidden@far.example\nReply-To: u@host.sub.example\nSubject: local\nnot a header\nbody\n",
    );
    let (env, content) = read_queued(&inst, "incoming");
    assert_eq!(env.sender, "s@x.example");
    assert_eq!(env.attr("sender_fullname"), Some("Doe, John"));
    let rcpts: Vec<(&str, &str, &str)> = env
        .recipients
        .iter()
        .map(|r| (r.address.as_str(), r.orig.as_str(), r.orcpt.as_str()))
        .collect();
    assert_eq!(
        rcpts,
        [
            ("joe@test.example", "joe", "rfc822;joe@test.example"),
            ("new@y.example", "old@x.example", "rfc822;new@y.example"),
            (
                "root@a.sub.example",
                "root@a.sub.example",
                "rfc822;root@a.sub.example"
            ),
            (
                "u@a.sub.example",
                "u@a.sub.example",
                "rfc822;u@a.sub.example"
            ),
            ("zz@b.example", "zz@b.example", "rfc822;zz@b.example"),
            (
                "hidden@far.example",
                "hidden@far.example",
                "rfc822;hidden@far.example"
            ),
        ]
    );
    let id = files(&inst, "incoming").remove(0);
    let mut lines = content.lines();
    let received = lines.next().unwrap();
    assert!(
        received.starts_with("Received: by test.example (Postfix, from userid "),
        "{content}"
    );
    assert!(
        lines.next().unwrap().starts_with(&format!("\tid {id}; ")),
        "{content}"
    );
    let rest: Vec<&str> = lines.collect();
    assert_eq!(
        &rest[..4],
        [
            "To: Joe <joe@test.example>, new@y.example (comment)",
            "Cc: root@a.sub.example, u@sub.example, zz@b.example",
            "Reply-To: u@sub.example",
            "Subject: local",
        ],
        "{content}"
    );
    assert!(rest[4].starts_with("Message-Id: <"), "{content}");
    assert!(
        rest[4].ends_with(&format!(".{id}@test.example>")),
        "{content}"
    );
    assert!(rest[5].starts_with("Date: "), "{content}");
    assert_eq!(rest[6], "From: \"Doe, John\" <s@x.example>");
    // The body began without an empty line: one is put before it.
    assert_eq!(&rest[7..], ["", "not a header", "body"], "{content}");
    let log = inst.log();
    assert!(log.contains(&format!("{id}: message-id=<")), "{log}");
    inst.stop();
}

const CHECKS: &str = "\
/^X-Reject:/ REJECT
/^X-Reject-Later:/ REJECT 4.7.1 try later
/^X-Hold:/ HOLD held for review
/^X-Discard:/ DISCARD
/^X-Warn:/ WARN warn text
/^X-Prepend:/ PREPEND X-Added: yes
/^X-Replace: (.*)/ REPLACE X-Replaced: $1
/^X-Ignore:/ IGNORE
/^X-Filter:/ FILTER discard:filtered
/^X-Redirect:/ REDIRECT other@far.example
/^X-Bcc:/ BCC copy@far.example
";

#[test]
fn header_checks_reject_hold_discard_warn_and_edit() {
    let inst = instance("hcheck", "", true);
    let hc = table(&inst, "regexp", "header_checks", CHECKS);
    let bc = table(
        &inst,
        "regexp",
        "body_checks",
        "/^secret/ REPLACE [removed]\n/^virus/ REJECT 5.7.1 no viruses here\n",
    );
    let mut inst = inst;
    inst.write_main_cf(&format!(
        "{}header_checks = {hc}\nbody_checks = {bc}\n",
        inst.main_cf()
    ));
    start(&inst);
    let from = "from=<s@x.example> to=<r@far.example>";

    // HOLD, with PREPEND, REPLACE and IGNORE seen in the held file.
    send(
        &inst,
        &["-f", "s@x.example", "r@far.example"],
        "X-Prepend: 1\nX-Replace: old value\nX-Ignore: gone\nX-Hold: 1\nSubject: held\n\nsecret text\nplain\n",
    );
    let (env, content) = read_queued(&inst, "hold");
    assert_eq!(env.recipients[0].address, "r@far.example");
    // After the Received: header cleanup adds to local mail.
    let headers: Vec<&str> = content.lines().skip(2).take(5).collect();
    assert_eq!(
        headers,
        [
            "X-Added: yes",
            "X-Prepend: 1",
            "X-Replaced: old value",
            "X-Hold: 1",
            "Subject: held"
        ],
        "{content}"
    );
    assert!(content.ends_with("\n\n[removed]\nplain\n"), "{content}");
    let id = files(&inst, "hold").remove(0);
    let log = inst.log();
    for line in [
        format!("{id}: prepend: header X-Prepend: 1 from local; {from}: X-Added: yes"),
        format!(
            "{id}: replace: header X-Replace: old value from local; {from}: X-Replaced: old value"
        ),
        format!("{id}: hold: header X-Hold: 1 from local; {from}: held for review"),
        format!("{id}: replace: body secret text from local; {from}: [removed]"),
    ] {
        assert!(log.contains(&line), "{line}\n{log}");
    }
    assert!(!log.contains("X-Ignore"), "{log}");
    assert!(
        !log.contains(&format!("{id}: removed")),
        "held mail stays: {log}"
    );

    // WARN: delivered, with a warning.
    send(
        &inst,
        &["-f", "s@x.example", "r@far.example"],
        "X-Warn: w\nSubject: warned\n\nbody\n",
    );
    assert!(
        inst.wait_log("status=sent (thrown away)", T),
        "{}",
        inst.log()
    );
    assert!(
        inst.log().contains(&format!(
            ": warning: header X-Warn: w from local; {from}: warn text"
        )),
        "{}",
        inst.log()
    );

    // DISCARD: accepted, logged, never delivered.
    send(
        &inst,
        &["-f", "s@x.example", "d@far.example"],
        "X-Discard: 1\nSubject: discarded\n\nbody\n",
    );
    assert!(
        inst.wait_log(
            ": discard: header X-Discard: 1 from local; from=<s@x.example> to=<d@far.example>",
            T
        ),
        "{}",
        inst.log()
    );

    // REJECT in a header and in the body.
    send(
        &inst,
        &["-f", "s@x.example", "j@far.example"],
        "X-Reject: 1\nSubject: rejected\n\nbody\n",
    );
    assert!(
        inst.wait_log(
            ": reject: header X-Reject: 1 from local; from=<s@x.example> to=<j@far.example>: 5.7.1 message content rejected",
            T
        ),
        "{}",
        inst.log()
    );
    send(
        &inst,
        &["-f", "s@x.example", "v@far.example"],
        "Subject: infected\n\nvirus inside\n",
    );
    assert!(
        inst.wait_log(": reject: body virus inside from local; from=<s@x.example> to=<v@far.example>: 5.7.1 no viruses here", T),
        "{}",
        inst.log()
    );
    assert!(
        wait_for(T, || inst
            .log()
            .matches("message rejected by cleanup")
            .count()
            == 2),
        "{}",
        inst.log()
    );

    // Of all these only the warned message was delivered.
    assert!(wait_for(T, || files(&inst, "maildrop").is_empty()
        && files(&inst, "incoming").is_empty()));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(deliveries(&inst), ["to=<r@far.example>"], "{}", inst.log());
    assert_eq!(files(&inst, "hold").len(), 1);
    inst.stop();
}

#[test]
fn filter_redirect_and_bcc_actions_route_the_message() {
    let inst = instance("hroute", "default_transport = error:5.1.1 not here\n", true);
    let hc = table(&inst, "regexp", "header_checks", CHECKS);
    let mut inst = inst;
    inst.write_main_cf(&format!("{}header_checks = {hc}\n", inst.main_cf()));
    start(&inst);
    // FILTER overrides the transport of every recipient.
    send(
        &inst,
        &["-f", "s@x.example", "a@far.example", "b@far.example"],
        "X-Filter: 1\nSubject: filtered\n\nbody\n",
    );
    assert!(
        wait_for(T, || inst.log().matches("status=sent (filtered)").count()
            == 2),
        "{}",
        inst.log()
    );
    // REDIRECT replaces all recipients: one delivery.
    send(
        &inst,
        &["-f", "s@x.example", "c@far.example", "d@far.example"],
        "X-Redirect: 1\nX-Filter: 1\nSubject: redirected\n\nbody\n",
    );
    assert!(
        inst.wait_log(
            "to=<other@far.example>, orig_to=<c@far.example>, relay=none",
            T
        ),
        "{}",
        inst.log()
    );
    assert!(
        inst.log()
            .contains(": redirect: header X-Redirect: 1 from local;")
    );
    // BCC adds a recipient.
    send(
        &inst,
        &["-f", "s@x.example", "e@far.example"],
        "X-Bcc: 1\nX-Filter: 1\nSubject: copied\n\nbody\n",
    );
    assert!(
        inst.wait_log("to=<copy@far.example>, relay=none", T),
        "{}",
        inst.log()
    );
    assert!(
        inst.wait_log("to=<e@far.example>, relay=none", T),
        "{}",
        inst.log()
    );
    assert!(wait_for(T, || queue_empty(&inst)), "{}", inst.log());
    inst.stop();
}

#[test]
fn content_filter_always_bcc_and_masquerading() {
    let mut inst = instance(
        "cfilter",
        "default_transport = error:5.1.1 not here\ncontent_filter = discard:content filtered\n\
         always_bcc = archive@far.example\nsender_bcc_maps = inline:{ s@example.com=sbcc@far.example }\n\
         masquerade_domains = example.com\n",
        true,
    );
    start(&inst);
    send(
        &inst,
        &["-f", "s@mail.example.com", "r@far.example"],
        "Subject: cf\n\nbody\n",
    );
    assert!(
        wait_for(T, || inst
            .log()
            .matches("status=sent (content filtered)")
            .count()
            == 3),
        "{}",
        inst.log()
    );
    let mut want = vec![
        "to=<archive@far.example>",
        "to=<r@far.example>",
        "to=<sbcc@far.example>",
    ];
    want.sort();
    assert_eq!(deliveries(&inst), want, "{}", inst.log());
    assert!(
        inst.log().contains("from=<s@example.com>, size="),
        "{}",
        inst.log()
    );
    inst.stop();
}

#[test]
fn a_failing_table_defers_until_it_is_fixed() {
    let mut inst = instance(
        "failtable",
        "virtual_alias_maps = inline:{ a@far.example=b@far.example }, fail:broken\nvirtual_alias_domains =\n",
        true,
    );
    start(&inst);
    send(
        &inst,
        &["-f", "s@x.example", "a@far.example"],
        "Subject: wait\n\nbody\n",
    );
    assert!(
        inst.wait_log(
            "virtual_alias_maps map lookup problem for b@far.example -- message not accepted, try again later",
            T
        ),
        "{}",
        inst.log()
    );
    assert!(inst.wait_log("will try again", T), "{}", inst.log());
    // Nothing was bounced or delivered, the message waits in maildrop.
    assert!(deliveries(&inst).is_empty(), "{}", inst.log());
    assert_eq!(files(&inst, "maildrop").len(), 1);
    assert!(files(&inst, "incoming").is_empty() && files(&inst, "deferred").is_empty());
    // Once the table is fixed, the message goes through.
    let main = inst.main_cf().replace(", fail:broken", "");
    inst.write_main_cf(&main);
    inst.postfix(&["reload"]).success();
    assert!(
        wait_for(T, || {
            let _ = ipc::trigger(&inst.spool(), ipc::Class::Public, "pickup", b"W");
            deliveries(&inst) == ["to=<b@far.example>, orig_to=<a@far.example>"]
        }),
        "{}",
        inst.log()
    );
    inst.stop();
}

#[test]
fn alias_loops_and_expansion_limits_defer() {
    let inst = instance(
        "aliaslimits",
        "virtual_alias_expansion_limit = 3\nvirtual_alias_domains =\n",
        true,
    );
    let v = table(
        &inst,
        "hash",
        "virtual",
        "loop1@far.example loop2@far.example\nloop2@far.example loop1@far.example\n\
         big@far.example m1@far.example, m2@far.example, m3@far.example, m4@far.example\n\
         small@far.example m1@far.example, m2@far.example\n",
    );
    let mut inst = inst;
    inst.write_main_cf(&format!("{}virtual_alias_maps = {v}\n", inst.main_cf()));
    start(&inst);
    send(
        &inst,
        &["-f", "s@x.example", "loop1@far.example"],
        "Subject: loop\n\nbody\n",
    );
    assert!(
        inst.wait_log(
            "unreasonable virtual_alias_maps map nesting for loop1@far.example -- message not accepted, try again later",
            T
        ),
        "{}",
        inst.log()
    );
    // pickup(8) tries a deferred file again before others: clear it.
    for id in files(&inst, "maildrop") {
        std::fs::remove_file(inst.spool().join("maildrop").join(id.as_str())).unwrap();
    }
    send(
        &inst,
        &["-f", "s@x.example", "big@far.example"],
        "Subject: big\n\nbody\n",
    );
    assert!(
        inst.wait_log(
            "unreasonable virtual_alias_maps map expansion size for big@far.example -- message not accepted, try again later",
            T
        ),
        "{}",
        inst.log()
    );
    // The deferred one waits in maildrop.
    assert_eq!(files(&inst, "maildrop").len(), 1, "{}", inst.log());
    for id in files(&inst, "maildrop") {
        std::fs::remove_file(inst.spool().join("maildrop").join(id.as_str())).unwrap();
    }
    send(
        &inst,
        &["-f", "s@x.example", "small@far.example"],
        "Subject: small\n\nbody\n",
    );
    assert!(
        wait_for(T, || deliveries(&inst).len() == 2),
        "{}",
        inst.log()
    );
    assert!(
        deliveries(&inst)
            .iter()
            .all(|d| d.ends_with("orig_to=<small@far.example>"))
    );
    inst.stop();
}

#[test]
fn held_mail_stays_in_hold_with_its_recipients() {
    let inst = instance("holdonly", "", true);
    let hc = table(
        &inst,
        "regexp",
        "header_checks",
        "/^Subject: hold me/ HOLD\n",
    );
    let mut inst = inst;
    inst.write_main_cf(&format!("{}header_checks = {hc}\n", inst.main_cf()));
    start(&inst);
    send(
        &inst,
        &["-f", "s@x.example", "x@far.example", "y@far.example"],
        "Subject: hold me\n\nbody\n",
    );
    let (env, content) = read_queued(&inst, "hold");
    assert_eq!(env.recipients.len(), 2);
    assert!(env.recipients.iter().all(|r| r.state == RcptState::Todo));
    assert!(content.contains("Subject: hold me\n"));
    let log = inst.log();
    assert!(
        log.contains(
            ": hold: header Subject: hold me from local; from=<s@x.example> to=<x@far.example>\n"
        ),
        "{log}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(deliveries(&inst).is_empty());
    inst.stop();
}
