//! End-to-end tests of bounce(8) with qmgr(8): non-delivery notices that
//! Python's `email` package reads as RFC 3464 reports, NOTIFY, RET,
//! bounce_size_limit, expiry, forced expiry, delay warnings, success
//! notices and postmaster copies.
//!
//! Notices go to a sender in `mydestination`, whose `local_transport` is
//! `retry`: they stay in the queue, where postcat(1) reads them.

#[path = "queue_common.rs"]
mod common;

use common::*;
use serde_json::Value;
use testkit::wait_for;

const KEEP_LOCAL: &str = "local_transport = retry:4.4.1 keep\n";

/// The one notice in the queue, parsed by Python.
fn the_notice(inst: &testkit::Instance) -> (String, Value) {
    assert!(wait_for(T, || notices(inst).len() == 1), "{}", inst.log());
    let (_, text) = notices(inst).remove(0);
    let parsed = parse_with_python(&text);
    assert_eq!(parsed["defects"], Value::Array(vec![]), "{text}");
    (text, parsed)
}

#[test]
fn undeliverable_mail_bounces_as_a_multipart_report() {
    let mut inst = instance(
        "bnotice",
        &format!("default_transport = error:5.1.1 no such user\n{KEEP_LOCAL}"),
        false,
    );
    sendmail(
        &inst,
        &["-f", "snd@localhost", "u@c.example", "v@c.example"],
        "From: Sender <snd@localhost>\nSubject: bounce me\n\nbody line 1\nbody line 2\n",
    );
    assert!(
        inst.wait_log("sender non-delivery notification: ", T),
        "{}",
        inst.log()
    );
    let (text, n) = the_notice(&inst);
    assert_eq!(n["type"], "multipart/report", "{text}");
    assert_eq!(n["report_type"], "delivery-status");
    assert_eq!(n["subject"], "Undelivered Mail Returned to Sender");
    assert_eq!(
        n["from"],
        "Mail Delivery System <MAILER-DAEMON@test.example>"
    );
    assert_eq!(n["auto_submitted"], "auto-replied");
    assert_eq!(
        n["parts"],
        serde_json::json!(["text/plain", "message/delivery-status", "message/rfc822"])
    );
    assert_eq!(n["per_message"]["Reporting-MTA"], "dns; test.example");
    assert_eq!(
        n["per_message"]["X-Postfix-Sender"],
        "rfc822; snd@localhost"
    );
    let r = n["recipients"].as_array().unwrap();
    assert_eq!(r.len(), 2);
    for (r, who) in r.iter().zip(["u@c.example", "v@c.example"]) {
        assert_eq!(r["Final-Recipient"], format!("rfc822; {who}"));
        assert_eq!(r["Original-Recipient"], format!("rfc822;{who}"));
        assert_eq!(r["Action"], "failed");
        assert_eq!(r["Status"], "5.1.1");
        assert_eq!(r["Diagnostic-Code"], "X-Postfix; no such user");
    }
    assert_eq!(n["original_subject"], "bounce me");
    assert!(
        n["text"]
            .as_str()
            .unwrap()
            .contains("<u@c.example>: no such user"),
        "{text}"
    );
    // The notice is from the null sender, to the sender.
    let q = queue(&inst);
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0]["sender"], "MAILER-DAEMON");
    assert_eq!(q[0]["recipients"][0]["address"], "snd@localhost");
    // The original is gone, with its logs.
    let log = inst.log();
    assert!(log.contains("status=bounced (no such user)"), "{log}");
    assert!(log.matches(": removed").count() >= 1, "{log}");
    inst.stop();
}

#[test]
fn notify_never_sends_nothing_and_ret_hdrs_sends_headers() {
    let mut inst = instance(
        "bnever",
        &format!("default_transport = error:5.1.1 no such user\n{KEEP_LOCAL}"),
        false,
    );
    sendmail(
        &inst,
        &["-f", "snd@localhost", "-N", "never", "u@c.example"],
        "Subject: never\n\nbody\n",
    );
    assert!(
        wait_for(T, || inst.log().contains(": removed")),
        "{}",
        inst.log()
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!inst.log().contains("notification"), "{}", inst.log());
    assert!(queue(&inst).is_empty());
    // RET=HDRS: the header only; ENVID comes back.
    sendmail(
        &inst,
        &[
            "-f",
            "snd@localhost",
            "-R",
            "hdrs",
            "-V",
            "envid-42",
            "u@c.example",
        ],
        "Subject: headers only\n\nsecret body\n",
    );
    let (text, n) = the_notice(&inst);
    assert_eq!(
        n["per_message"]["Original-Envelope-Id"], "envid-42",
        "{text}"
    );
    assert_eq!(
        n["parts"],
        serde_json::json!([
            "text/plain",
            "message/delivery-status",
            "text/rfc822-headers"
        ])
    );
    assert_eq!(n["original_subject"], "headers only");
    assert!(!text.contains("secret body"), "{text}");
    assert!(text.contains("Content-Description: Undelivered Message Headers"));
    inst.stop();
}

#[test]
fn bounce_size_limit_sends_headers_of_large_messages() {
    let mut inst = instance(
        "bsize",
        &format!(
            "default_transport = error:5.1.1 no such user\n{KEEP_LOCAL}bounce_size_limit = 1000\n"
        ),
        false,
    );
    let mut big = String::from("Subject: large\n\n");
    for _ in 0..50 {
        big.push_str(&"y".repeat(70));
        big.push('\n');
    }
    sendmail(&inst, &["-f", "snd@localhost", "u@c.example"], &big);
    let (text, n) = the_notice(&inst);
    assert_eq!(n["parts"][2], "text/rfc822-headers", "{text}");
    assert!(!text.contains("yyyyyyyy"));
    inst.stop();
}

#[test]
fn mail_past_maximal_queue_lifetime_is_returned() {
    let mut inst = instance(
        "bexpire",
        &format!(
            "default_transport = retry:4.4.1 host is down\n{KEEP_LOCAL}maximal_queue_lifetime = 0\n"
        ),
        false,
    );
    sendmail(
        &inst,
        &["-f", "snd@localhost", "u@far.example"],
        "Subject: too late\n\nbody\n",
    );
    assert!(
        inst.wait_log(
            "from=<snd@localhost>, status=expired, returned to sender",
            T
        ),
        "{}",
        inst.log()
    );
    let (text, n) = the_notice(&inst);
    let r = &n["recipients"][0];
    assert_eq!(r["Action"], "failed", "{text}");
    assert_eq!(r["Status"], "4.4.1");
    assert_eq!(r["Diagnostic-Code"], "X-Postfix; host is down");
    assert_eq!(n["original_subject"], "too late");
    inst.stop();
}

#[test]
fn forced_expiry_returns_mail_without_trying() {
    let mut inst = instance(
        "bforce",
        &format!("default_transport = retry:4.4.1 host is down\n{KEEP_LOCAL}"),
        false,
    );
    sendmail(
        &inst,
        &["-f", "snd@localhost", "u@far.example"],
        "Subject: expire me\n\nbody\n",
    );
    assert!(wait_deferred(&inst, 1), "{}", inst.log());
    let id = id_of(&inst, "snd@localhost");
    let (_, p, _) = run(&inst, "postqueue", &["-p"]);
    assert!(!p.contains('#'), "{p}");
    let (code, _, err) = run(&inst, "postsuper", &["-e", &id]);
    assert_eq!(
        (code, err),
        (
            0,
            format!("postsuper: {id}: expired\npostsuper: Force-expired: 1 message\n")
        )
    );
    let (_, p, _) = run(&inst, "postqueue", &["-p"]);
    assert!(p.contains(&format!("{id}#")), "{p}");
    let tries = inst.log().matches("status=deferred (host is down)").count();
    let (code, _, _) = run(&inst, "postqueue", &["-f"]);
    assert_eq!(code, 0);
    assert!(
        inst.wait_log("status=force-expired, returned to sender", T),
        "{}",
        inst.log()
    );
    let (text, n) = the_notice(&inst);
    // The reason of the last attempt; no new attempt was made.
    assert_eq!(
        n["recipients"][0]["Diagnostic-Code"], "X-Postfix; host is down",
        "{text}"
    );
    assert_eq!(n["recipients"][0]["Action"], "failed");
    assert_eq!(
        inst.log().matches("status=deferred (host is down)").count(),
        tries
    );
    inst.stop();
}

#[test]
fn delay_warning_once_after_delay_warning_time() {
    let mut inst = instance(
        "bdelay",
        &format!(
            "default_transport = retry:4.4.1 host is down\n{KEEP_LOCAL}delay_warning_time = 1s\n"
        ),
        false,
    );
    sendmail(
        &inst,
        &["-f", "snd@localhost", "u@far.example"],
        "Subject: slow\n\nbody\n",
    );
    assert!(wait_deferred(&inst, 1), "{}", inst.log());
    std::thread::sleep(std::time::Duration::from_millis(1500));
    run(&inst, "postqueue", &["-f"]);
    assert!(
        inst.wait_log("sender delay notification: ", T),
        "{}",
        inst.log()
    );
    let (text, n) = the_notice(&inst);
    assert_eq!(n["subject"], "Delayed Mail (still being retried)", "{text}");
    assert_eq!(n["parts"][2], "text/rfc822-headers");
    let r = &n["recipients"][0];
    assert_eq!(r["Action"], "delayed");
    assert_eq!(r["Status"], "4.4.1");
    assert!(r.get("Will-Retry-Until").is_some(), "{text}");
    assert!(
        n["text"]
            .as_str()
            .unwrap()
            .contains("# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #")
    );
    // Only one warning per message.
    run(&inst, "postqueue", &["-f"]);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(
        inst.log().matches("sender delay notification").count(),
        1,
        "{}",
        inst.log()
    );
    inst.stop();
}

#[test]
fn notify_success_gets_a_delivery_report() {
    let mut inst = instance(
        "bsuccess",
        &format!("default_transport = discard:delivered ok\n{KEEP_LOCAL}"),
        false,
    );
    sendmail(
        &inst,
        &["-f", "snd@localhost", "-N", "success", "u@far.example"],
        "Subject: tell me\n\nbody\n",
    );
    assert!(
        inst.wait_log("sender delivery status notification: ", T),
        "{}",
        inst.log()
    );
    let (text, n) = the_notice(&inst);
    assert_eq!(n["subject"], "Successful Mail Delivery Report", "{text}");
    let r = &n["recipients"][0];
    assert_eq!(r["Action"], "delivered");
    assert_eq!(r["Status"], "2.0.0");
    assert!(text.contains("Content-Description: Message Headers"));
    // Without NOTIFY=SUCCESS: no report.
    sendmail(
        &inst,
        &["-f", "snd@localhost", "u@far.example"],
        "Subject: quiet\n\nbody\n",
    );
    assert!(
        wait_for(T, || inst.log().matches(": removed").count() >= 2),
        "{}",
        inst.log()
    );
    assert_eq!(
        inst.log().matches("delivery status notification").count(),
        1
    );
    inst.stop();
}

#[test]
fn postmaster_copies_follow_notify_classes() {
    let mut inst = instance(
        "bpostmaster",
        &format!(
            "default_transport = error:5.1.1 no such user\n{KEEP_LOCAL}mydestination = localhost, test.example\nnotify_classes = bounce, resource, software\n"
        ),
        false,
    );
    sendmail(
        &inst,
        &["-f", "snd@localhost", "-N", "never", "u@c.example"],
        "Subject: for the postmaster\n\nsecret\n",
    );
    assert!(
        inst.wait_log("postmaster non-delivery notification: ", T),
        "{}",
        inst.log()
    );
    // NOTIFY=NEVER: the sender gets nothing, the postmaster a copy.
    assert!(!inst.log().contains("sender non-delivery notification"));
    let (text, n) = the_notice(&inst);
    assert_eq!(n["subject"], "Postmaster Copy: Undelivered Mail", "{text}");
    assert_eq!(n["auto_submitted"], "auto-generated");
    assert_eq!(n["to"], "postmaster@test.example");
    assert_eq!(n["parts"][2], "text/rfc822-headers");
    assert!(!text.contains("secret"));
    let q = queue(&inst);
    assert_eq!(q[0]["sender"], "double-bounce@test.example");
    inst.stop();
}

#[test]
fn a_notice_never_gets_a_notice_back() {
    // The sender's domain fails too: the notice cannot be delivered, and
    // no notice about it goes anywhere (2bounce is not in notify_classes).
    let mut inst = instance(
        "bloop",
        "default_transport = error:5.1.1 no such user\n",
        false,
    );
    sendmail(
        &inst,
        &["-f", "snd@far.example", "u@c.example"],
        "Subject: loop\n\nbody\n",
    );
    assert!(
        inst.wait_log("sender non-delivery notification: ", T),
        "{}",
        inst.log()
    );
    assert!(
        wait_for(T, || inst.log().matches(": removed").count() == 2),
        "{}",
        inst.log()
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        inst.log().matches("notification").count(),
        1,
        "{}",
        inst.log()
    );
    assert!(queue(&inst).is_empty());
    inst.stop();
}

#[test]
fn sendmail_bv_mails_a_verification_report() {
    let mut inst = instance(
        "bverify",
        &format!("default_transport = discard:delivered ok\n{KEEP_LOCAL}"),
        false,
    );
    let (code, out, err) = run_as(
        &inst,
        None,
        "sendmail",
        &["-f", "snd@localhost", "-bv", "u@far.example", "x@localhost"],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "Mail Delivery Status Report will be mailed to <snd@localhost>.\n"
    );
    assert!(
        inst.wait_log("sender delivery status notification: ", T),
        "{}",
        inst.log()
    );
    let log = inst.log();
    assert!(
        log.contains("to=<u@far.example>, relay=none")
            && log.contains("status=deliverable (delivered ok)"),
        "{log}"
    );
    assert!(log.contains("status=undeliverable (keep)"), "{log}");
    assert!(!log.contains("status=sent"), "{log}");
    let (text, n) = the_notice(&inst);
    assert_eq!(n["subject"], "Mail Delivery Status Report", "{text}");
    let r = n["recipients"].as_array().unwrap();
    let by = |who: &str| {
        r.iter()
            .find(|x| x["Final-Recipient"] == format!("rfc822; {who}"))
            .unwrap_or_else(|| panic!("{who}: {text}"))
            .clone()
    };
    assert_eq!(by("u@far.example")["Action"], "deliverable");
    assert_eq!(by("u@far.example")["Status"], "2.0.0");
    assert_eq!(by("x@localhost")["Action"], "undeliverable");
    assert_eq!(by("x@localhost")["Status"], "4.4.1");
    assert_eq!(n["original_subject"], "probe");
    // The probe itself is gone; only the report waits.
    assert_eq!(queue(&inst).len(), 1);
    inst.stop();
}

#[test]
fn bounce_template_file_replaces_the_text() {
    let dir = std::env::temp_dir().join(format!("bounce-template-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bounce.cf");
    std::fs::write(
        &file,
        "failure_template = <<EOF\nCharset: us-ascii\nFrom: Postmaster <postmaster>\nSubject: Could not deliver\n\nSorry, $myhostname could not deliver this.\nEOF\n",
    )
    .unwrap();
    let mut perms = std::fs::metadata(&dir).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&dir, perms).unwrap();
    let mut inst = instance(
        "btemplate",
        &format!(
            "default_transport = error:5.1.1 no such user\n{KEEP_LOCAL}bounce_template_file = {}\n",
            file.display()
        ),
        false,
    );
    sendmail(
        &inst,
        &["-f", "snd@localhost", "u@c.example"],
        "Subject: x\n\nbody\n",
    );
    let (text, n) = the_notice(&inst);
    assert_eq!(n["subject"], "Could not deliver", "{text}");
    assert_eq!(n["from"], "Postmaster <postmaster@test.example>");
    assert!(
        n["text"]
            .as_str()
            .unwrap()
            .starts_with("Sorry, test.example could not deliver this.\n"),
        "{text}"
    );
    let (_, b, _) = run(&inst, "postconf", &["-b"]);
    assert!(
        b.starts_with(
            "expanded_failure_text = <<EOF\nSorry, test.example could not deliver this.\nEOF\n"
        ),
        "{b}"
    );
    inst.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}
