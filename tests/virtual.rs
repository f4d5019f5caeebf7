//! End-to-end tests of virtual(8): Maildir and mailbox delivery under
//! virtual_mailbox_base with the IDs of virtual_uid_maps and
//! virtual_gid_maps (static and per user), the minimum UID, the size
//! limit, unknown users, and the tables in files and in SQL (SQLite, with
//! the schema of the lookup-table tests). Dovecot reads what was
//! delivered. Texts are Postfix 3.7.11's for the same deliveries.

#[path = "delivery_common.rs"]
mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use common::*;
use testkit::{Instance, is_root, wait_for};

struct Setup {
    inst: Instance,
    vuser: TestUser,
    other: Option<TestUser>,
}

fn setup(
    name: &str,
    tables: impl FnOnce(&Instance, &TestUser, Option<&TestUser>) -> String,
) -> Setup {
    let inst = instance(name, "", "");
    let root = inst.root.clone();
    let homes = root.join("home");
    std::fs::create_dir_all(&homes).unwrap();
    let vuser = TestUser::new(&homes);
    let other = is_root().then(|| TestUser::new(&homes));
    let base = root.join("vmail");
    std::fs::create_dir_all(&base).unwrap();
    vuser.own(&base);
    // Mailboxes of several owners side by side.
    open_dir(&base.join("v.example"));
    let extra = tables(&inst, &vuser, other.as_ref());
    inst.write_main_cf(&format!(
        "{}virtual_mailbox_base = {}\n\
         virtual_gid_maps = static:{}\n\
         message_size_limit = 2000\n\
         virtual_mailbox_limit = 3000\n\
         {extra}",
        inst.main_cf(),
        base.display(),
        vuser.gid,
    ));
    start(&inst);
    Setup { inst, vuser, other }
}

fn postmap(inst: &Instance, file: &Path) {
    let r = inst.run("postmap", &[&file.display().to_string()]);
    assert_eq!(r.code, 0, "postmap: {}", r.stderr);
}

#[test]
fn maildir_and_mailbox_with_the_tables_ids() {
    let s = setup("vfiles", |inst, vuser, other| {
        let etc = &inst.etc;
        std::fs::write(
            etc.join("vmailbox"),
            "md@v.example v.example/md/\n\
             mb@v.example v.example/mb\n\
             full@v.example v.example/full\n\
             low@v.example v.example/low/\n\
             other@v.example v.example/other/\n\
             @c.example c.example/all/\n",
        )
        .unwrap();
        let mut uids = "low@v.example 5\n".to_string();
        if let Some(o) = other {
            uids.push_str(&format!("other@v.example {}\n", o.uid));
        }
        std::fs::write(etc.join("vuid"), uids).unwrap();
        postmap(inst, &etc.join("vmailbox"));
        postmap(inst, &etc.join("vuid"));
        format!(
            "virtual_mailbox_domains = v.example, c.example\n\
             virtual_mailbox_maps = hash:{etc}/vmailbox\n\
             virtual_uid_maps = hash:{etc}/vuid, static:{uid}\n\
             virtual_minimum_uid = 100\n",
            etc = etc.display(),
            uid = vuser.uid
        )
    });
    let base = s.inst.root.join("vmail");
    // A mailbox close to its limit.
    std::fs::write(base.join("v.example/full"), "x".repeat(2900)).unwrap();
    s.vuser.own(&base.join("v.example/full"));
    for r in ["md", "mb", "full", "low", "nosuch"] {
        sendmail(
            &s.inst,
            &["-f", "sender@far.example", &format!("{r}@v.example")],
            &format!("Subject: to {r}\n\nFrom the start\nbody\n"),
        );
    }
    sendmail(
        &s.inst,
        &["-f", "sender@far.example", "Any+Thing@c.example"],
        "Subject: catch\n\nbody\n",
    );
    if s.other.is_some() {
        sendmail(
            &s.inst,
            &["-f", "sender@far.example", "other@v.example"],
            "Subject: other\n\nbody\n",
        );
    }
    let l = wait_line(&s.inst, &["to=<md@v.example>"]);
    assert!(
        l.contains("postfix/virtual[") && l.contains("relay=virtual"),
        "{l}"
    );
    assert!(
        l.ends_with("dsn=2.0.0, status=sent (delivered to maildir)"),
        "{l}"
    );
    let l = wait_line(&s.inst, &["to=<mb@v.example>"]);
    assert!(
        l.ends_with("dsn=2.0.0, status=sent (delivered to mailbox)"),
        "{l}"
    );
    let l = wait_line(&s.inst, &["to=<full@v.example>"]);
    assert!(
        l.ends_with(&format!(
            "dsn=5.2.2, status=bounced (delivery failed to mailbox {}/v.example/full: error writing message: File too large)",
            base.display()
        )),
        "{l}"
    );
    assert_eq!(
        std::fs::metadata(base.join("v.example/full"))
            .unwrap()
            .len(),
        2900
    );
    wait_line(
        &s.inst,
        &["warning: recipient low@v.example: bad uid 5 in virtual_uid_maps"],
    );
    let l = wait_line(&s.inst, &["to=<low@v.example>"]);
    assert!(
        l.ends_with("dsn=4.3.5, status=deferred (mail system configuration error)"),
        "{l}"
    );
    let l = wait_line(&s.inst, &["to=<nosuch@v.example>"]);
    assert!(
        l.ends_with("dsn=5.1.1, status=bounced (unknown user: \"nosuch@v.example\")"),
        "{l}"
    );
    let l = wait_line(&s.inst, &["c.example>", "status=sent"]);
    assert!(l.ends_with("(delivered to maildir)"), "{l}");
    // The files: owners, modes, formats.
    let md = base.join("v.example/md");
    let new: Vec<_> = std::fs::read_dir(md.join("new"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(new.len(), 1);
    let m = new[0].metadata().unwrap();
    assert_eq!(
        (m.uid(), m.gid(), m.mode() & 0o7777),
        (s.vuser.uid, s.vuser.gid, 0o600)
    );
    let text = std::fs::read_to_string(new[0].path()).unwrap();
    assert!(
        text.starts_with(
            "Return-Path: <sender@far.example>\nX-Original-To: md@v.example\nDelivered-To: md@v.example\n"
        ),
        "{text}"
    );
    assert!(text.ends_with("\n\nFrom the start\nbody\n"), "{text}");
    let mb = std::fs::read_to_string(base.join("v.example/mb")).unwrap();
    assert!(mb.starts_with("From sender@far.example  "), "{mb}");
    assert!(mb.ends_with("\n\n>From the start\nbody\n\n"), "{mb}");
    let m = std::fs::metadata(base.join("v.example/mb")).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o7777), (s.vuser.uid, 0o600));
    let all = base.join("c.example/all");
    assert_eq!(std::fs::metadata(&all).unwrap().mode() & 0o7777, 0o700);
    assert_eq!(std::fs::read_dir(all.join("new")).unwrap().count(), 1);
    if let Some(o) = &s.other {
        wait_line(&s.inst, &["to=<other@v.example>", "delivered to maildir"]);
        let m = std::fs::metadata(base.join("v.example/other/new")).unwrap();
        assert_eq!(m.uid(), o.uid, "per-user uid from virtual_uid_maps");
    } else {
        skip("per-user virtual_uid_maps entries");
    }
    // Dovecot reads both.
    if let Some(out) = imap_maildir(
        &s.vuser,
        &s.inst.root,
        &md,
        &[
            "EXAMINE INBOX",
            "FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])",
        ],
    ) {
        assert!(
            out.contains("* 1 EXISTS") && out.contains("Subject: to md"),
            "{out}"
        );
    }
    if let Some(out) = imap_mbox(
        &s.vuser,
        &s.inst.root,
        &base.join("v.example/mb"),
        &[
            "EXAMINE INBOX",
            "FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])",
        ],
    ) {
        assert!(
            out.contains("* 1 EXISTS") && out.contains("Subject: to mb"),
            "{out}"
        );
    }
}

/// The tables of the lookup-table tests' schema, in SQLite.
const SCHEMA: &str = "
CREATE TABLE domains (domain varchar(50) NOT NULL PRIMARY KEY);
CREATE TABLE users (email varchar(80) NOT NULL PRIMARY KEY, password varchar(128) NOT NULL, quota INT NOT NULL DEFAULT 10485760);
INSERT INTO domains VALUES ('v.example');
INSERT INTO users VALUES ('joe@v.example', 'x', 1000), ('ann@v.example', 'y', 2000);
";

#[test]
fn tables_in_sql() {
    let Ok(sqlite) = which("sqlite3") else {
        eprintln!("SKIPPED: sqlite3 is not installed (.ci/run installs it)");
        return;
    };
    let s = setup("vsql", |inst, vuser, _| {
        let etc = &inst.etc;
        let db = etc.join("mail.sqlite");
        let st = Command::new(&sqlite)
            .arg(&db)
            .arg(SCHEMA)
            .status()
            .expect("run sqlite3");
        assert!(st.success());
        let conn = format!("dbpath = {}\n", db.display());
        std::fs::write(
            etc.join("domains.cf"),
            format!("{conn}query = SELECT domain FROM domains WHERE domain = '%s'\n"),
        )
        .unwrap();
        std::fs::write(
            etc.join("mailboxes.cf"),
            format!(
                "{conn}query = SELECT substr(email, instr(email, '@') + 1) || '/' || substr(email, 1, instr(email, '@') - 1) || '/' FROM users WHERE email = '%s'\n"
            ),
        )
        .unwrap();
        format!(
            "virtual_mailbox_domains = sqlite:{etc}/domains.cf\n\
             virtual_mailbox_maps = sqlite:{etc}/mailboxes.cf\n\
             virtual_uid_maps = static:{uid}\n",
            etc = etc.display(),
            uid = vuser.uid
        )
    });
    for r in ["joe", "ann", "nobody"] {
        sendmail(
            &s.inst,
            &["-f", "sender@far.example", &format!("{r}@v.example")],
            &format!("Subject: to {r}\n\nbody\n"),
        );
    }
    wait_line(&s.inst, &["to=<joe@v.example>", "delivered to maildir"]);
    wait_line(&s.inst, &["to=<ann@v.example>", "delivered to maildir"]);
    let l = wait_line(&s.inst, &["to=<nobody@v.example>"]);
    assert!(
        l.ends_with("status=bounced (unknown user: \"nobody@v.example\")"),
        "{l}"
    );
    let base = s.inst.root.join("vmail/v.example");
    for u in ["joe", "ann"] {
        assert!(wait_for(T, || std::fs::read_dir(base.join(u).join("new"))
            .map(|d| d.count() == 1)
            .unwrap_or(false)));
    }
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    for d in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let p = Path::new(d).join(name);
        if p.exists() {
            return Ok(p);
        }
    }
    Err(())
}
