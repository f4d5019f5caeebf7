//! End-to-end tests of pipe(8): an entry shaped like the stock master.cf
//! `maildrop` one (flags=DRXhu user=... argv=... -d ${recipient}), the
//! argument macros, the flags' headers and quoting, the user the command
//! runs as, its environment, and how exit statuses and output become
//! delivery status. Expected texts are Postfix 3.7.11's.

#[path = "delivery_common.rs"]
mod common;

use common::*;
use testkit::{Instance, is_root};

fn setup(name: &str) -> (Instance, TestUser, std::path::PathBuf) {
    // The master.cf entries name the instance directory: make it first.
    let probe = instance(name, "", "");
    let root = probe.root.clone();
    let homes = root.join("home");
    std::fs::create_dir_all(&homes).unwrap();
    let user = TestUser::new(&homes);
    let out = open_dir(&root.join("out"));
    let dump = dump_script(&root, &out);
    let d = dump.display();
    let u = &user.name;
    probe.write_master_cf(&format!(
        "{}\
maildrop  unix  -       n       n       -       -       pipe
  flags=DRXhu user={u} argv={d} 0 -d ${{recipient}}
macros    unix  -       n       n       -       -       pipe
  flags=ORq user={u} argv={d} 0 s=${{sender}} r=${{recipient}} u=${{user}} e=${{extension}} d=${{domain}} m=${{mailbox}} n=${{nexthop}} o=${{original_recipient}} q=${{queue_id}} $$x {{ a b }}
multi     unix  -       n       n       -       -       pipe
  flags=F. user={u} eol=\\r\\n argv={d} 0 x${{recipient}}y
fail      unix  -       n       n       -       -       pipe
  user={u} size=500 argv={d} ${{user}}
badmacro  unix  -       n       n       -       -       pipe
  user={u} argv={d} 0 ${{nosuch}}
",
        probe.master_cf()
    ));
    probe.write_main_cf(&format!(
        "{}transport_maps = inline:{{md.example=maildrop:, m.example=macros:Hop.Example, multi.example=multi:, fail.example=fail:, bad.example=badmacro:}}\n\
         recipient_delimiter = +\n\
         maildrop_destination_recipient_limit = 1\n\
         macros_destination_recipient_limit = 1\n",
        probe.main_cf()
    ));
    start(&probe);
    (probe, user, out)
}

#[test]
fn maildrop_style_entry_and_macros() {
    let (inst, user, out) = setup("pmaildrop");
    sendmail(
        &inst,
        &["-f", "s@far.example", "Joe+Box@MD.example"],
        "Subject: md\n\nFrom x\nbody\n",
    );
    let l = wait_line(&inst, &["relay=maildrop", "status=sent"]);
    assert!(l.contains("postfix/pipe["), "{l}");
    assert!(
        l.ends_with("dsn=2.0.0, status=sent (delivered via maildrop service)"),
        "{l}"
    );
    let d = dumps(&out).pop().expect("the command ran");
    if is_root() {
        assert!(
            d.starts_with(&format!(
                "uid={} gid={} groups={} ",
                user.uid, user.gid, user.gid
            )),
            "{d}"
        );
    } else {
        skip("user= switching");
    }
    // h and u: the recipient is folded to lower case.
    assert!(d.contains("  [0]\n  [-d]\n  [joe+box@md.example]\n"), "{d}");
    // Only PATH and export_environment.
    let env: Vec<&str> = d
        .split("env:\n")
        .nth(1)
        .unwrap()
        .split("stdin:")
        .next()
        .unwrap()
        .lines()
        .map(|l| l.split('=').next().unwrap())
        .collect();
    for v in &env {
        assert!(
            ["PATH", "PWD", "LANG", "TZ", "MAIL_CONFIG", "SHLVL", "_"].contains(v),
            "{v} in {d}"
        );
    }
    // R and D, no From_ line, no quoting.
    let stdin = d.split("stdin:\n").nth(1).unwrap();
    assert!(
        stdin.starts_with("Return-Path: <s@far.example>\nDelivered-To: "),
        "{stdin}"
    );
    assert!(stdin.ends_with("\n\nFrom x\nbody\n"), "{stdin}");

    sendmail(
        &inst,
        &["-f", "", "Ann+X@m.example"],
        "Subject: macros\n\nbody\n",
    );
    wait_line(&inst, &["relay=macros", "status=sent"]);
    let d = dumps(&out).pop().unwrap();
    for arg in [
        "s=MAILER-DAEMON",
        "u=Ann",
        "e=X",
        "d=m.example",
        "m=Ann+X",
        "n=Hop.Example",
        "$x",
        "a b",
    ] {
        assert!(d.contains(&format!("\n  [{arg}]\n")), "{arg}: {d}");
    }
    assert!(d.contains("\n  [r=Ann+X@m.example]\n"), "{d}");
    assert!(d.contains("\n  [o=Ann+X@m.example]\n"), "{d}");
    let stdin = d.split("stdin:\n").nth(1).unwrap();
    assert!(
        stdin.starts_with("Return-Path: <MAILER-DAEMON>\nX-Original-To: Ann+X@m.example\n"),
        "{stdin}"
    );

    // Several recipients: one command, an argument each; F, . and eol.
    sendmail(
        &inst,
        &["-f", "s@far.example", "a@multi.example", "b@multi.example"],
        "Subject: multi\n\n.dot\n",
    );
    wait_line(
        &inst,
        &["to=<b@multi.example>", "relay=multi", "status=sent"],
    );
    wait_line(
        &inst,
        &["to=<a@multi.example>", "relay=multi", "status=sent"],
    );
    let d = dumps(&out).pop().unwrap();
    assert!(
        d.contains("  [0]\n  [xa@multi.exampley]\n  [xb@multi.exampley]\n"),
        "{d}"
    );
    let stdin = d.split("stdin:\n").nth(1).unwrap();
    assert!(stdin.starts_with("From s@far.example  "), "{stdin}");
    assert!(stdin.contains("\r\n\r\n..dot\r\n"), "{stdin:?}");

    // D: a message that was delivered to the recipient before bounces.
    sendmail(
        &inst,
        &["-f", "s@far.example", "loop@md.example"],
        "Delivered-To: loop@md.example\nSubject: loop\n\nbody\n",
    );
    let l = wait_line(&inst, &["to=<loop@md.example>"]);
    assert!(
        l.ends_with("dsn=5.4.6, status=bounced (mail forwarding loop for loop@md.example)"),
        "{l}"
    );
}

#[test]
fn exit_statuses_and_limits() {
    let (inst, _user, _out) = setup("pstatus");
    // ${user} is the exit status the dump script uses.
    for r in ["75", "67", "1"] {
        sendmail(
            &inst,
            &["-f", "s@far.example", &format!("{r}@fail.example")],
            "Subject: x\n\nbody\n",
        );
    }
    let l = wait_line(&inst, &["to=<75@fail.example>"]);
    assert!(
        l.ends_with("relay=fail") || l.contains("relay=fail,"),
        "{l}"
    );
    assert!(
        l.ends_with("dsn=4.3.0, status=deferred (temporary failure)"),
        "{l}"
    );
    let l = wait_line(&inst, &["to=<67@fail.example>"]);
    assert!(
        l.ends_with("dsn=5.1.1, status=bounced (user unknown)"),
        "{l}"
    );
    let l = wait_line(&inst, &["to=<1@fail.example>"]);
    assert!(
        l.contains("dsn=5.3.0, status=bounced (Command died with status 1: \""),
        "{l}"
    );
    // size=.
    let big = format!("Subject: big\n\n{}\n", "x".repeat(600));
    sendmail(&inst, &["-f", "s@far.example", "0@fail.example"], &big);
    let l = wait_line(&inst, &["to=<0@fail.example>"]);
    assert!(
        l.ends_with("dsn=5.2.3, status=bounced (message too large)"),
        "{l}"
    );
    // An unknown macro is a configuration error.
    sendmail(
        &inst,
        &["-f", "s@far.example", "x@bad.example"],
        "Subject: x\n\nbody\n",
    );
    wait_line(&inst, &["service badmacro: unknown macro name: \"nosuch\""]);
    let l = wait_line(&inst, &["to=<x@bad.example>"]);
    assert!(
        l.ends_with("dsn=4.3.5, status=deferred (mail system configuration error)"),
        "{l}"
    );
}
