//! End-to-end tests of the queue operations: mailq/postqueue, postsuper,
//! postcat, showq and flush on a running instance, compared where the
//! issue asks with the outputs that `scripts/dev/queue-golden.sh`
//! recorded from Postfix 3.7 for the same scenario.

#[path = "queue_common.rs"]
mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use testkit::{is_root, wait_for};

/// The scenario of `scripts/dev/queue-golden.sh`, on our suite.
fn scenario(inst: &testkit::Instance) {
    sendmail(
        inst,
        &["-f", "sender@example.com", "a@far.example", "b@far.example"],
        "Subject: test\n\nhello\n",
    );
    sendmail(
        inst,
        &["-f", "", "x@far.example"],
        "Subject: bounce\n\nhello\n",
    );
    sendmail(
        inst,
        &["-f", "held@example.com", "h@far.example"],
        "Subject: held\n\nhello\n",
    );
    sendmail(
        inst,
        &["-f", "exp@example.com", "e@far.example"],
        "Subject: expire\n\nhello\n",
    );
    let mut big = String::from("Subject: big\n\n");
    for _ in 0..600 {
        big.push_str(&"x".repeat(100));
        big.push('\n');
    }
    sendmail(
        inst,
        &[
            "-f",
            "big@example.com",
            "b1@far.example",
            "b2@far.example",
            "b3@far.example",
        ],
        &big,
    );
    assert!(wait_deferred(inst, 5), "{}", inst.log());
}

/// The Postfix IDs of the golden scenario: held, expired, first.
fn golden_ids() -> Vec<String> {
    golden("scenario-ids.txt")
        .lines()
        .map(str::to_string)
        .collect()
}

/// postcat output with what must differ taken out: queue IDs (and the
/// hash directory they select), dates, the file offset of the content
/// (the file formats differ), and the envelope records that Postfix's
/// cleanup adds and ours does not (create_time, a dsn_orig_rcpt for
/// every recipient) or the other way round (submit_uid).
fn normalize_postcat(text: &str, id: &str) -> String {
    text.lines()
        .filter(|l| {
            !l.starts_with("create_time:")
                && !l.starts_with("named_attribute: dsn_orig_rcpt=")
                && !l.starts_with("named_attribute: submit_uid=")
        })
        .map(|l| {
            let l = l.replace(&format!("/{}/{}", &id[..1], id), "/X/ID");
            let l = l.replace(id, "ID");
            // The Message-Id: time stamp.
            let l = match (l.find("<"), l.find(".ID@")) {
                (Some(a), Some(b)) if l.starts_with("Message-Id: ") && a < b => {
                    format!("{}<STAMP{}", &l[..a], &l[b..])
                }
                _ => l,
            };
            if let Some(rest) = l.strip_prefix("message_size:") {
                let f: Vec<u64> = rest
                    .split_whitespace()
                    .map(|x| x.parse().unwrap())
                    .collect();
                let size = f[0].saturating_sub(2 * id.len() as u64);
                return format!(
                    "message_size: {} OFFSET {} {} {} {}",
                    size, f[2], f[3], size, f[5]
                );
            }
            if l.starts_with("message_arrival_time:") {
                return "message_arrival_time: DATE".into();
            }
            // RFC 5322 dates in Received: and Date:.
            match l.find(", ") {
                Some(i)
                    if l.ends_with("(UTC)") && (l.starts_with("Date:") || l.contains("id ID;")) =>
                {
                    format!("{}, DATE", &l[..i])
                }
                _ => l,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn outputs_match_postfix_for_the_same_queue() {
    let mut inst = instance(
        "qgolden",
        "default_transport = retry:4.4.1 host is down\n",
        false,
    );
    scenario(&inst);
    let pf = golden_ids();
    let (held, exp, first) = (
        id_of(&inst, "held@example.com"),
        id_of(&inst, "exp@example.com"),
        id_of(&inst, "sender@example.com"),
    );
    let (code, _, err) = run(&inst, "postsuper", &["-h", &held]);
    assert_eq!(code, 0);
    assert_eq!(
        without_ids(&err, &[&held]),
        without_ids(&golden("postsuper-hold.txt"), &[&pf[0]])
    );
    let (_, _, err) = run(&inst, "postsuper", &["-e", &exp]);
    assert_eq!(
        without_ids(&err, &[&exp]),
        without_ids(&golden("postsuper-expire.txt"), &[&pf[1]])
    );
    // mailq, postqueue -p, sendmail -bp.
    let (code, p, _) = run(&inst, "postqueue", &["-p"]);
    assert_eq!(code, 0);
    assert_eq!(
        normalize_listing(&p),
        normalize_listing(&golden("scenario-p.txt")),
        "ours:\n{p}"
    );
    let (_, bp, _) = run(&inst, "sendmail", &["-bp"]);
    assert_eq!(bp, p);
    // postqueue -j.
    let (_, j, _) = run(&inst, "postqueue", &["-j"]);
    assert_eq!(
        normalize_json(&j),
        normalize_json(&golden("scenario-j.txt")),
        "ours:\n{j}"
    );
    // postcat.
    let (code, c, err) = run(&inst, "postcat", &["-q", &first]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        normalize_postcat(&c, &first),
        normalize_postcat(&golden("scenario-postcat.txt"), &pf[2]),
        "ours:\n{c}"
    );
    for (opt, file) in [
        ("-bq", "scenario-postcat-b.txt"),
        ("-hq", "scenario-postcat-h.txt"),
    ] {
        let (_, c, _) = run(&inst, "postcat", &[opt, &first]);
        assert_eq!(
            normalize_postcat(&c, &first),
            normalize_postcat(&golden(file), &pf[2])
        );
    }
    // postsuper on names that are not there, and bad usage.
    for (args, file) in [
        (&["-d", "12345ABCDE"][..], "postsuper-unknown.txt"),
        (&["-d", "bad/id"][..], "postsuper-bad.txt"),
    ] {
        let (code, _, err) = run(&inst, "postsuper", args);
        assert_eq!((code, err), (0, golden(file)));
    }
    let (code, _, err) = run(&inst, "postsuper", &["-x"]);
    assert_eq!(format!("{err}exit {code}\n"), golden("postsuper-usage.txt"));
    let (code, _, err) = run(&inst, "postsuper", &["-d", "ALL"]);
    assert_eq!((code, err), (0, golden("postsuper-delete-all.txt")));
    let (_, p, _) = run(&inst, "postqueue", &["-p"]);
    assert_eq!(p, golden("empty-p.txt"));
    let (_, j, _) = run(&inst, "postqueue", &["-j"]);
    assert_eq!(j, golden("empty-j.txt"));
    // postconf -t/-b (templates of the notices bounce(8) sends).
    let (_, t, _) = run(&inst, "postconf", &["-t", ""]);
    assert_eq!(t, golden("postconf-t.txt"));
    let (_, b, _) = run(&inst, "postconf", &["-b", ""]);
    assert_eq!(b, golden("postconf-b.txt"));
    inst.stop();
}

#[test]
fn postsuper_hold_release_requeue_delete() {
    let mut inst = instance(
        "qsuper",
        "default_transport = retry:4.4.1 host is down\n",
        false,
    );
    for s in ["one@example.com", "two@example.com", "three@example.com"] {
        sendmail(&inst, &["-f", s, "r@far.example"], "Subject: x\n\nbody\n");
    }
    assert!(wait_deferred(&inst, 3), "{}", inst.log());
    let one = id_of(&inst, "one@example.com");
    let two = id_of(&inst, "two@example.com");
    let three = id_of(&inst, "three@example.com");
    let layout = queue::Layout::new(&inst.spool());
    let qid = |s: &str| queue::QueueId::parse(s).unwrap();
    // Hold: moves to hold, mailq marks it.
    let (code, _, err) = run(&inst, "postsuper", &["-h", &one, "-h", &two]);
    assert_eq!(code, 0);
    assert_eq!(
        err,
        format!(
            "postsuper: {one}: placed on hold\npostsuper: {two}: placed on hold\npostsuper: Placed on hold: 2 messages\n"
        )
    );
    assert!(layout.path_of("hold", &qid(&one)).exists());
    let (_, p, _) = run(&inst, "postqueue", &["-p"]);
    assert!(p.contains(&format!("{one}!")), "{p}");
    // Release: back to deferred with a time stamp that makes it due.
    let (_, _, err) = run(&inst, "postsuper", &["-H", &one]);
    assert_eq!(
        err,
        format!("postsuper: {one}: released from hold\npostsuper: Released from hold: 1 message\n")
    );
    let path = layout.path_of("deferred", &qid(&one));
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    assert!(mtime <= std::time::SystemTime::now());
    // IDs on standard input; an unknown one is not counted.
    let (code, _, err) = run_as(
        &inst,
        None,
        "postsuper",
        &["-d", "-"],
        &format!("{two}\nABCDEF12345\nbad id\n"),
    );
    assert_eq!(code, 0);
    assert_eq!(
        err,
        format!(
            "postsuper: {two}: removed\npostsuper: warning: invalid mail queue id: bad id\npostsuper: Deleted: 1 message\n"
        )
    );
    assert!(!layout.path_of("hold", &qid(&two)).exists());
    assert!(!layout.path_of("defer", &qid(&two)).exists());
    // Requeue: a new queue file through pickup and cleanup, with the same
    // arrival time and sender.
    let before = queue(&inst)
        .into_iter()
        .find(|m| m["queue_id"] == three.as_str())
        .unwrap();
    let (_, _, err) = run(&inst, "postsuper", &["-r", &three]);
    assert_eq!(
        err,
        format!("postsuper: {three}: requeued\npostsuper: Requeued: 1 message\n")
    );
    assert!(
        inst.wait_log("from=<three@example.com>", T),
        "{}",
        inst.log()
    );
    assert!(wait_for(T, || queue(&inst).iter().any(|m| m["sender"]
        == "three@example.com"
        && m["queue_id"] != three.as_str())));
    let after = queue(&inst)
        .into_iter()
        .find(|m| m["sender"] == "three@example.com")
        .unwrap();
    assert_eq!(after["arrival_time"], before["arrival_time"]);
    // Only root may run it.
    if is_root() {
        let (code, _, err) = run_as(&inst, Some("nobody"), "postsuper", &["-d", "ALL"], "");
        assert_eq!(code, 1);
        assert_eq!(
            err,
            "postsuper: fatal: use of this command is reserved for the superuser\n"
        );
    }
    let (_, _, err) = run(&inst, "postsuper", &["-d", "ALL", "deferred"]);
    assert_eq!(err, "postsuper: Deleted: 2 messages\n");
    let (code, _, err) = run(&inst, "postsuper", &["-d", "ALL", "nonexist"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "postsuper: fatal: invalid directory name: nonexist\n")
    );
    inst.stop();
}

#[test]
fn postsuper_s_moves_damaged_files_and_never_follows_links() {
    let mut inst = instance(
        "qstruct",
        "default_transport = retry:4.4.1 host is down\n",
        false,
    );
    sendmail(
        &inst,
        &["-f", "a@example.com", "r@far.example"],
        "Subject: x\n\nbody\n",
    );
    sendmail(
        &inst,
        &["-f", "b@example.com", "r@far.example"],
        "Subject: y\n\nbody\n",
    );
    assert!(wait_deferred(&inst, 2), "{}", inst.log());
    let a = id_of(&inst, "a@example.com");
    let b = id_of(&inst, "b@example.com");
    let layout = queue::Layout::new(&inst.spool());
    let qa = queue::QueueId::parse(&a).unwrap();
    let path = layout.path_of("deferred", &qa);
    // Damage one file: the end record is gone.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 2]).unwrap();
    // A link out of the queue in place of a queue file.
    let outside = inst.root.join("outside");
    std::fs::write(&outside, b"not mail").unwrap();
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&outside, inst.spool().join("hold/ABCDEF12345")).unwrap();
    let (code, p, _) = run(&inst, "postqueue", &["-p"]);
    assert_eq!(code, 0);
    assert!(!p.contains("ABCDEF12345"), "{p}");
    let (code, _, err) = run(&inst, "postcat", &["-q", "ABCDEF12345"]);
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = run(&inst, "postsuper", &["-s"]);
    assert_eq!(code, 0);
    assert!(
        err.contains(&format!("deferred/{a}: corrupt queue file")),
        "{err}"
    );
    assert!(layout.path_of("corrupt", &qa).exists());
    assert!(!path.exists());
    assert!(
        layout
            .path_of("deferred", &queue::QueueId::parse(&b).unwrap())
            .exists()
    );
    // -p: old temporary files go, other strange names are reported.
    let tmp = inst.spool().join("incoming/123456.7890");
    std::fs::write(&tmp, b"").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86400);
    std::fs::File::options()
        .write(true)
        .open(&tmp)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let fresh = inst.spool().join("incoming/123456.7891");
    std::fs::write(&fresh, b"").unwrap();
    std::fs::write(inst.spool().join("incoming/junk"), b"").unwrap();
    let (code, _, err) = run(&inst, "postsuper", &["-p"]);
    assert_eq!(code, 0);
    assert!(!tmp.exists() && fresh.exists());
    assert!(
        err.contains("postsuper: warning: bogus file name: incoming/junk"),
        "{err}"
    );
    // The link is deleted as an entry; what it pointed to stays.
    let (_, _, err) = run(&inst, "postsuper", &["-d", "ABCDEF12345"]);
    assert!(err.contains("ABCDEF12345: removed"), "{err}");
    assert!(outside.exists());
    // A change of hashing: -s moves files to their new place.
    inst.write_main_cf(&format!(
        "{}hash_queue_names = deferred, defer, hold\nhash_queue_depth = 2\n",
        inst.main_cf()
    ));
    let (code, _, err) = run(&inst, "postsuper", &["-s"]);
    assert_eq!(code, 0, "{err}");
    let l2 = queue::Layout {
        hashed: vec!["deferred".into(), "defer".into(), "hold".into()],
        depth: 2,
        ..layout.clone()
    };
    let qb = queue::QueueId::parse(&b).unwrap();
    assert!(l2.path_of("deferred", &qb).exists());
    assert!(l2.path_of("defer", &qb).exists());
    assert!(!layout.path_of("deferred", &qb).exists());
    // The new places are the ones every program uses.
    let (_, _, err) = run(&inst, "postsuper", &["-h", &b]);
    assert!(err.contains("Placed on hold: 1 message"), "{err}");
    assert!(l2.path_of("hold", &qb).exists());
    inst.postfix(&["reload"]).success();
    assert!(
        wait_for(T, || run(&inst, "postqueue", &["-p"])
            .1
            .contains(&format!("{b}!"))),
        "{}",
        inst.log()
    );
    let (_, p, _) = run(&inst, "postqueue", &["-p"]);
    assert!(p.contains("(host is down)"), "{p}");
    inst.stop();
}

#[test]
fn postqueue_f_s_i_deliver_deferred_mail() {
    let mut inst = instance(
        "qflush",
        "default_transport = retry:4.4.1 host is down\nfast_flush_domains = far.example\n",
        false,
    );
    sendmail(
        &inst,
        &["-f", "a@example.com", "r@far.example"],
        "Subject: x\n\nbody\n",
    );
    sendmail(
        &inst,
        &["-f", "b@example.com", "r@other.example"],
        "Subject: y\n\nbody\n",
    );
    sendmail(
        &inst,
        &["-f", "c@example.com", "r@other.example"],
        "Subject: z\n\nbody\n",
    );
    assert!(wait_deferred(&inst, 3), "{}", inst.log());
    let c = id_of(&inst, "c@example.com");
    // The destination is up now.
    inst.write_main_cf(&inst.main_cf().replace(
        "default_transport = retry:4.4.1 host is down",
        "default_transport = discard:delivered",
    ));
    inst.postfix(&["reload"]).success();
    std::thread::sleep(std::time::Duration::from_millis(500));
    // -s: only a destination of fast_flush_domains.
    let (code, _, err) = run(&inst, "postqueue", &["-s", "other.example"]);
    assert_eq!(
        (code, err.as_str()),
        (
            69,
            "postqueue: fatal: Flush service is not configured for destination \"other.example\"\n"
        )
    );
    let (code, _, err) = run(&inst, "postqueue", &["-s", "bad domain"]);
    assert_eq!(
        (code, err.as_str()),
        (
            69,
            "postqueue: fatal: Cannot flush mail queue - invalid destination: \"bad domain\"\n"
        )
    );
    let (code, _, err) = run(&inst, "postqueue", &["-s", "far.example"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        inst.wait_log("to=<r@far.example>, relay=none", T),
        "{}",
        inst.log()
    );
    assert!(wait_for(T, || queue(&inst).len() == 2), "{}", inst.log());
    // -i: one message.
    let (code, _, err) = run(&inst, "postqueue", &["-i", &c]);
    assert_eq!(code, 0, "{err}");
    assert!(wait_for(T, || queue(&inst).len() == 1), "{}", inst.log());
    let (code, _, err) = run(&inst, "postqueue", &["-i", "bad/x"]);
    assert_eq!(
        (code, err.as_str()),
        (
            69,
            "postqueue: fatal: Cannot flush queue ID - invalid name: \"bad/x\"\n"
        )
    );
    // -f (and sendmail -q, postfix flush): everything.
    let (code, _, err) = run(&inst, "sendmail", &["-q"]);
    assert_eq!(code, 0, "{err}");
    assert!(wait_for(T, || queue(&inst).is_empty()), "{}", inst.log());
    inst.postfix(&["flush"]).success();
    let (_, p, _) = run(&inst, "postqueue", &["-p"]);
    assert_eq!(p, "Mail queue is empty\n");
    inst.stop();
}

#[test]
fn mailq_for_users_through_setgid_postqueue() {
    if !is_root() {
        eprintln!("skipped: needs root to install set-gid postqueue and to switch users");
        return;
    }
    let mut inst = instance(
        "qsetgid",
        "default_transport = retry:4.4.1 host is down\n",
        true,
    );
    sendmail(
        &inst,
        &["-f", "a@example.com", "r@far.example"],
        "Subject: x\n\nbody\n",
    );
    assert!(wait_deferred(&inst, 1), "{}", inst.log());
    // The queue itself is closed to users; postqueue reaches showq
    // through public/ with its set-gid group.
    let meta = std::fs::metadata(inst.spool().join("deferred")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o007, 0);
    let (code, out, err) = run_as(&inst, Some("nobody"), "postqueue", &["-p"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("a@example.com"), "{out}");
    assert!(out.contains("(host is down)"), "{out}");
    assert_eq!(
        run_as(&inst, Some("nobody"), "sendmail", &["-bp"], "").1,
        out
    );
    let (code, out, _) = run_as(&inst, Some("nobody"), "postqueue", &["-j"], "");
    assert_eq!(code, 0);
    assert!(out.contains("\"sender\": \"a@example.com\""), "{out}");
    // Flushing is allowed too, by default.
    let (code, _, err) = run_as(&inst, Some("nobody"), "postqueue", &["-f"], "");
    assert_eq!(code, 0, "{err}");
    // authorized_mailq_users and authorized_flush_users keep users out.
    let plain_main_cf = inst.main_cf();
    inst.write_main_cf(&format!(
        "{}authorized_mailq_users = root\nauthorized_flush_users = !nobody, static:anyone\n",
        inst.main_cf()
    ));
    let (code, _, err) = run_as(&inst, Some("nobody"), "postqueue", &["-p"], "");
    assert_eq!(code, 77);
    assert!(
        err.contains("fatal: User nobody(65534) is not allowed to view the mail queue"),
        "{err}"
    );
    let (code, _, err) = run_as(&inst, Some("nobody"), "postqueue", &["-f"], "");
    assert_eq!(code, 77);
    assert!(
        err.contains("is not allowed to flush the mail queue"),
        "{err}"
    );
    // Root is always allowed.
    let (code, _, _) = run(&inst, "postqueue", &["-p"]);
    assert_eq!(code, 0);
    // With the mail system down, root reads the queue itself; others
    // are told it is down.
    inst.write_main_cf(&plain_main_cf);
    inst.stop();
    let (code, out, err) = run(&inst, "postqueue", &["-p"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("a@example.com"), "{out}");
    assert!(
        err.starts_with("postqueue: warning: Mail system is down -- accessing queue directly (Connect to the Postfix showq service: "),
        "{err}"
    );
    let (code, _, err) = run_as(&inst, Some("nobody"), "postqueue", &["-p"], "");
    assert_eq!(code, 69, "{err}");
    assert!(
        err.contains("fatal: Queue report unavailable - mail system is down (Connect to the Postfix showq service: "),
        "{err}"
    );
}
