//! End-to-end tests of qmgr(8) with trivial-rewrite(8) and the discard,
//! error and retry agents: queue files placed in `incoming` the way
//! cleanup(8) commits them.

use std::time::{Duration, SystemTime};

use queue::{Layout, NewRecipient, QueueId, RecordType, Writer};
use testkit::{Instance, MINIMAL_MASTER_CF, wait_for};

const T: Duration = Duration::from_secs(15);

const MASTER_CF: &str = "qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
discard   unix  -       -       n       -       -       discard
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
";

fn instance(name: &str, main: &str) -> Instance {
    let inst = Instance::builder(name)
        .master_cf(&format!("{MINIMAL_MASTER_CF}{MASTER_CF}"))
        .main_cf(main)
        .build();
    inst.start();
    assert!(inst.wait_log("daemon started", T));
    inst
}

/// Commits a message to `incoming` as cleanup would, owned by mail_owner.
fn enqueue(inst: &Instance, sender: &str, rcpts: &[&str]) -> QueueId {
    let layout = Layout::new(&inst.spool());
    let mut w = Writer::create(&layout, "incoming").expect("create queue file");
    w.time(SystemTime::now()).unwrap();
    w.record(RecordType::Sender, sender.as_bytes()).unwrap();
    w.attr("rewrite_context", "local").unwrap();
    for r in rcpts {
        w.recipient(&NewRecipient {
            address: r,
            ..Default::default()
        })
        .unwrap();
    }
    w.begin_content().unwrap();
    w.content(b"Subject: test\n\nhello\n").unwrap();
    w.end_content().unwrap();
    let path = w.path().to_path_buf();
    let id = w.commit().unwrap();
    if testkit::is_root() {
        let owner = nix::unistd::User::from_name("postfix").unwrap().unwrap();
        nix::unistd::chown(&path, Some(owner.uid), Some(owner.gid)).unwrap();
    }
    id
}

fn wake(inst: &Instance) {
    ipc::trigger(&inst.spool(), ipc::Class::Public, "qmgr", b"I").expect("trigger qmgr");
}

#[test]
fn delivered_mail_is_logged_and_removed() {
    let mut inst = instance("qdiscard", "default_transport = discard:no thanks\n");
    let id = enqueue(
        &inst,
        "sender@example.com",
        &["a@far.example", "b@far.example"],
    );
    wake(&inst);
    assert!(
        inst.wait_log(&format!("{id}: removed"), T),
        "{}",
        inst.log()
    );
    let log = inst.log();
    assert!(log.contains(&format!("postfix/qmgr[")), "{log}");
    assert!(
        log.contains(&format!(
            "{id}: from=<sender@example.com>, size=24, nrcpt=2 (queue active)"
        )),
        "{log}"
    );
    for r in ["a@far.example", "b@far.example"] {
        let line = log
            .lines()
            .find(|l| l.contains(&format!("{id}: to=<{r}>")))
            .unwrap_or_else(|| panic!("no line for {r}: {log}"));
        assert!(line.contains("postfix/discard["), "{line}");
        assert!(line.contains(", relay=none, delay="), "{line}");
        assert!(line.contains(", delays="), "{line}");
        assert!(
            line.ends_with(", dsn=2.0.0, status=sent (no thanks)"),
            "{line}"
        );
    }
    assert!(!Layout::new(&inst.spool()).path_of("incoming", &id).exists());
    assert!(!Layout::new(&inst.spool()).path_of("active", &id).exists());
    inst.stop();
}

#[test]
fn deferred_mail_waits_in_the_deferred_queue_with_its_reason() {
    let mut inst = instance("qretry", "default_transport = retry:4.4.1 host is down\n");
    let id = enqueue(&inst, "sender@example.com", &["a@far.example"]);
    wake(&inst);
    let layout = Layout::new(&inst.spool());
    assert!(
        wait_for(T, || layout.path_of("deferred", &id).exists()),
        "{}",
        inst.log()
    );
    assert!(
        inst.log()
            .contains(&format!("{id}: to=<a@far.example>, relay=none"))
    );
    assert!(
        inst.log()
            .contains("dsn=4.4.1, status=deferred (host is down)"),
        "{}",
        inst.log()
    );
    let reasons = queue::logfile::read(&layout, "defer", &id).unwrap();
    assert_eq!(reasons.len(), 1);
    assert_eq!(reasons[0].reason, "host is down");
    // The retry time is in the future (minimal_backoff_time).
    let mtime = std::fs::metadata(layout.path_of("deferred", &id))
        .unwrap()
        .modified()
        .unwrap();
    assert!(mtime > SystemTime::now() + Duration::from_secs(200));
    inst.stop();
}

#[test]
fn done_recipients_are_not_delivered_again() {
    let mut inst = instance("qdone", "default_transport = discard\n");
    let layout = Layout::new(&inst.spool());
    // Stop qmgr from seeing the file before its first recipient is marked.
    let id = enqueue(
        &inst,
        "s@example.com",
        &["done@far.example", "todo@far.example"],
    );
    let f = queue::QueueFile::open(&layout, "incoming", &id).unwrap();
    let mut f2 = queue::QueueFile::open(&layout, "incoming", &id).unwrap();
    let env = f2.read_envelope().unwrap();
    f.mark_done(env.recipients[0].offset).unwrap();
    wake(&inst);
    assert!(
        inst.wait_log(&format!("{id}: removed"), T),
        "{}",
        inst.log()
    );
    let log = inst.log();
    assert!(log.contains("nrcpt=1 (queue active)"), "{log}");
    assert!(!log.contains("to=<done@far.example>"), "{log}");
    assert!(log.contains("to=<todo@far.example>"), "{log}");
    inst.stop();
}

#[test]
fn bounced_mail_waits_for_the_bounce_service() {
    // Without a bounce service the failed recipient is recorded and marked
    // done, and the message is kept (DESIGN.md rule 3).
    let mut inst = instance(
        "qbounce",
        "default_transport = error:5.1.1 no such user here\n",
    );
    let id = enqueue(&inst, "s@example.com", &["x@far.example"]);
    wake(&inst);
    let layout = Layout::new(&inst.spool());
    assert!(
        wait_for(T, || layout.path_of("deferred", &id).exists()),
        "{}",
        inst.log()
    );
    let log = inst.log();
    assert!(
        log.contains("dsn=5.1.1, status=bounced (no such user here)"),
        "{log}"
    );
    assert!(log.contains("bounce service unavailable"), "{log}");
    let b = queue::logfile::read(&layout, "bounce", &id).unwrap();
    assert_eq!(b.len(), 1);
    let mut f = queue::QueueFile::open(&layout, "deferred", &id).unwrap();
    assert_eq!(
        f.read_envelope().unwrap().recipients[0].state,
        queue::RcptState::Done
    );
    inst.stop();
}

#[test]
fn corrupt_file_goes_to_corrupt() {
    let mut inst = instance("qcorrupt", "default_transport = discard\n");
    let layout = Layout::new(&inst.spool());
    let id = enqueue(&inst, "s@example.com", &["x@far.example"]);
    let path = layout.path_of("incoming", &id);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    wake(&inst);
    assert!(
        wait_for(T, || layout.path_of("corrupt", &id).exists()),
        "{}",
        inst.log()
    );
    assert!(
        inst.log()
            .contains(&format!("warning: {id}: corrupt queue file")),
        "{}",
        inst.log()
    );
    // qmgr survives and goes on.
    let id2 = enqueue(&inst, "s@example.com", &["y@far.example"]);
    wake(&inst);
    assert!(
        inst.wait_log(&format!("{id2}: removed"), T),
        "{}",
        inst.log()
    );
    inst.stop();
}
