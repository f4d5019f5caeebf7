//! End-to-end tests of local(8): mailbox and Maildir delivery, aliases,
//! `.forward`, extensions, commands and files, the refusals Postfix
//! makes, forwarding loops, and a kill -9 in the middle of a mailbox
//! write. The expected log texts and mailbox bytes are those of Postfix
//! 3.7.11 for the same deliveries. Run as root, the test users are
//! created with useradd and removed afterwards, and the privilege checks
//! run; run as another user, the tests deliver to that user and skip
//! (loudly) what needs root.

#[path = "delivery_common.rs"]
mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::*;
use testkit::{Instance, is_root, wait_for};

/// An instance set up for local delivery: aliases in `aliases`, mailbox
/// spool `root/mail`, records of the dump script in `root/out`.
struct Setup {
    inst: Instance,
    user: TestUser,
    other: Option<TestUser>,
    out: std::path::PathBuf,
}

fn setup(name: &str, aliases: &str, extra: &str) -> Setup {
    let inst = instance(name, "", "");
    let root = inst.root.clone();
    let homes = root.join("home");
    std::fs::create_dir_all(&homes).unwrap();
    let user = TestUser::new(&homes);
    let other = is_root().then(|| TestUser::new(&homes));
    let out = open_dir(&root.join("out"));
    open_dir(&root.join("mail"));
    open_dir(&root.join("files"));
    dump_script(&root, &out);
    let aliases = aliases
        .replace("$USER", &user.name)
        .replace("$OTHER", other.as_ref().map_or("nobody", |o| &o.name))
        .replace("$ROOT", &root.display().to_string());
    std::fs::write(inst.etc.join("aliases"), aliases).unwrap();
    let extra = extra.replace("$ROOT", &root.display().to_string());
    inst.write_main_cf(&format!(
        "{}mydestination = $myhostname, localhost\n\
         alias_maps = hash:{etc}/aliases\n\
         alias_database = hash:{etc}/aliases\n\
         mail_spool_directory = {root}/mail\n\
         recipient_delimiter = +\n\
         default_transport = discard:relayed\n\
         biff = no\n\
         {extra}",
        inst.main_cf(),
        etc = inst.etc.display(),
        root = root.display(),
    ));
    let r = inst.run(
        "postalias",
        &[&inst.etc.join("aliases").display().to_string()],
    );
    assert_eq!(r.code, 0, "postalias: {}", r.stderr);
    start(&inst);
    Setup {
        inst,
        user,
        other,
        out,
    }
}

fn mbox(s: &Setup, user: &str) -> String {
    std::fs::read_to_string(s.inst.root.join("mail").join(user)).unwrap_or_default()
}

#[test]
fn mbox_and_maildir_as_postfix_writes_them() {
    let s = setup("lmbox", "postmaster: root\n", "");
    let u = &s.user.name;
    sendmail(
        &s.inst,
        &["-f", "sender@far.example", u],
        "Subject: t1\nFrom: x@y\n\nFrom the start\nline two\n>From quoted\n",
    );
    let line = wait_line(&s.inst, &[&format!("to=<{u}@test.example>"), "status=sent"]);
    assert!(line.contains("postfix/local["), "{line}");
    assert!(
        line.contains(&format!("orig_to=<{u}>, relay=local, delay=")),
        "{line}"
    );
    assert!(
        line.ends_with("dsn=2.0.0, status=sent (delivered to mailbox)"),
        "{line}"
    );
    let text = mbox(&s, u);
    let lines: Vec<&str> = text.split('\n').collect();
    assert!(lines[0].starts_with("From sender@far.example  "), "{text}");
    // asctime: "Mon Nov 23 14:00:44 2026"
    assert_eq!(
        lines[0].len(),
        "From sender@far.example  ".len() + 24,
        "{text}"
    );
    assert_eq!(lines[1], "Return-Path: <sender@far.example>");
    assert_eq!(lines[2], format!("X-Original-To: {u}"));
    assert_eq!(lines[3], format!("Delivered-To: {u}@test.example"));
    assert!(
        text.ends_with("\n\n>From the start\nline two\n>From quoted\n\n"),
        "{text}"
    );
    let meta = std::fs::metadata(s.inst.root.join("mail").join(u)).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o600);
    assert_eq!(meta.uid(), s.user.uid);
    // A second message is appended after an empty line.
    sendmail(&s.inst, &["-f", "", u], "Subject: t2\n\nsecond\n");
    wait_for(T, || mbox_messages(&mbox(&s, u)).len() == 2);
    let msgs = mbox_messages(&mbox(&s, u));
    assert_eq!(msgs.len(), 2, "{}", mbox(&s, u));
    assert!(msgs[1].starts_with("From MAILER-DAEMON  "), "{}", msgs[1]);
    assert!(msgs[1].contains("\nReturn-Path: <>\n"), "{}", msgs[1]);
    // Dovecot reads the mailbox.
    let mail = s.inst.root.join("mail").join(u);
    if let Some(out) = imap_mbox(
        &s.user,
        &s.inst.root,
        &mail,
        &[
            "EXAMINE INBOX",
            "FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT RETURN-PATH)])",
        ],
    ) {
        assert!(out.contains("* 2 EXISTS"), "{out}");
        assert!(
            out.contains("Subject: t1") && out.contains("Subject: t2"),
            "{out}"
        );
        assert!(out.contains("Return-Path: <>"), "{out}");
    }

    // Maildir: in the home directory as root, in a spool directory
    // ending in / otherwise.
    let maildir = if is_root() {
        s.inst
            .write_main_cf(&format!("{}home_mailbox = Maildir/\n", s.inst.main_cf()));
        s.user.home.join("Maildir")
    } else {
        let spool = open_dir(&s.inst.root.join("maildirs"));
        s.inst.write_main_cf(&format!(
            "{}mail_spool_directory = {}/\n",
            s.inst.main_cf(),
            spool.display()
        ));
        spool.join(u)
    };
    s.inst.postfix(&["reload"]).success();
    std::thread::sleep(std::time::Duration::from_secs(1));
    sendmail(
        &s.inst,
        &["-f", "sender@far.example", &format!("{u}+box")],
        "Subject: md\n\nFrom here\nbody\n",
    );
    let line = wait_line(&s.inst, &["delivered to maildir"]);
    assert!(
        line.contains(&format!("to=<{u}+box@test.example>")),
        "{line}"
    );
    let new: Vec<_> = std::fs::read_dir(maildir.join("new"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(new.len(), 1);
    let name = new[0].file_name().to_string_lossy().into_owned();
    // SECONDS.VdevIinodeMusec.HOST, as Postfix names them.
    let parts: Vec<&str> = name.splitn(3, '.').collect();
    assert!(parts[0].bytes().all(|b| b.is_ascii_digit()), "{name}");
    assert!(
        parts[1].starts_with('V') && parts[1].contains('I') && parts[1].contains('M'),
        "{name}"
    );
    let meta = new[0].metadata().unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o600);
    assert_eq!(meta.uid(), s.user.uid);
    for sub in ["", "tmp", "new", "cur"] {
        let m = std::fs::metadata(maildir.join(sub)).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o700, "{sub}");
        assert_eq!(m.uid(), s.user.uid, "{sub}");
    }
    let text = std::fs::read_to_string(new[0].path()).unwrap();
    assert!(
        text.starts_with(&format!(
            "Return-Path: <sender@far.example>\nX-Original-To: {u}+box\nDelivered-To: {u}+box@test.example\n"
        )),
        "{text}"
    );
    // No From_ line and no quoting in a Maildir.
    assert!(text.ends_with("\n\nFrom here\nbody\n"), "{text}");
    assert_eq!(std::fs::read_dir(maildir.join("tmp")).unwrap().count(), 0);
    if let Some(out) = imap_maildir(
        &s.user,
        &s.inst.root,
        &maildir,
        &[
            "EXAMINE INBOX",
            "FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT DELIVERED-TO)] BODY.PEEK[TEXT])",
        ],
    ) {
        assert!(out.contains("* 1 EXISTS"), "{out}");
        assert!(out.contains("Subject: md"), "{out}");
        assert!(
            out.contains(&format!("Delivered-To: {u}+box@test.example")),
            "{out}"
        );
        assert!(out.contains("From here"), "{out}");
    }
}

const ALIASES: &str = "postmaster: root
root: $USER
list: $USER, $OTHER
owner-list: $OTHER
both: $USER, $OTHER
solo: $USER
owner-solo: $OTHER
cmd: \"|$ROOT/dump.sh 0 'arg two'\"
cmdfail: \"|$ROOT/dump.sh 75\"
cmdhard: \"|$ROOT/dump.sh 67\"
file: $ROOT/files/out.mbox
md: $ROOT/files/md/
incl: :include:$ROOT/files/incl.txt
remote: someone@far.example
selfish: selfish, $USER
dup: $USER, $USER@test.example
ext: $USER+alias
loop1: loop2
loop2: loop1
devnull: /dev/null
";

#[test]
fn every_alias_form() {
    let s = setup("lalias", ALIASES, "");
    let root = s.inst.root.clone();
    std::fs::write(root.join("files/incl.txt"), format!("{}\n", s.user.name)).unwrap();
    let u = s.user.name.clone();
    let o = s
        .other
        .as_ref()
        .map_or("nobody".to_string(), |o| o.name.clone());
    for r in [
        "root",
        "list",
        "both",
        "solo",
        "cmd",
        "cmdfail",
        "cmdhard",
        "file",
        "md",
        "incl",
        "remote",
        "selfish",
        "dup",
        "ext",
        "loop1",
        "devnull",
        "MAILER-DAEMON",
        "nosuch+x",
    ] {
        sendmail(
            &s.inst,
            &["-f", "sender@far.example", r],
            &format!("Subject: to {r}\n\nbody\n"),
        );
    }
    // A user through an alias: delivered here, logged as the user.
    let l = wait_line(&s.inst, &["orig_to=<root>"]);
    assert!(
        l.contains(&format!(
            "to=<{u}@test.example>, orig_to=<root>, relay=local"
        )),
        "{l}"
    );
    assert!(l.ends_with("status=sent (delivered to mailbox)"), "{l}");
    // Several targets without an owner: both here.
    for who in [&u, &o] {
        if who == "nobody" {
            continue;
        }
        let l = wait_line(
            &s.inst,
            &[&format!("to=<{who}@test.example>, orig_to=<both>")],
        );
        assert!(l.ends_with("(delivered to mailbox)"), "{l}");
    }
    // An owner-: forwarded as a new message from owner-list.
    let l = wait_line(&s.inst, &["to=<list@test.example>, orig_to=<list>"]);
    assert!(l.contains("status=sent (forwarded as "), "{l}");
    let l = wait_line(&s.inst, &["to=<solo@test.example>, orig_to=<solo>"]);
    assert!(l.contains("status=sent (forwarded as "), "{l}");
    if is_root() {
        wait_for(T, || {
            mbox(&s, &o).contains("Return-Path: <owner-list@test.example>")
        });
        let m = mbox(&s, &o);
        assert!(m.contains("From owner-list@test.example  "), "{m}");
        assert!(
            m.contains(&format!("\nX-Original-To: {o}@test.example\n")),
            "{m}"
        );
        assert!(m.contains("\nDelivered-To: list@test.example\n"), "{m}");
    }
    // A command: its text, rights, directory, environment and input.
    let l = wait_line(&s.inst, &["orig_to=<cmd>"]);
    assert!(
        l.ends_with(&format!(
            "status=sent (delivered to command: {}/dump.sh 0 'arg two')",
            root.display()
        )),
        "{l}"
    );
    let l = wait_line(&s.inst, &["orig_to=<cmdfail>"]);
    assert!(
        l.ends_with("dsn=4.3.0, status=deferred (temporary failure)"),
        "{l}"
    );
    let l = wait_line(&s.inst, &["orig_to=<cmdhard>"]);
    assert!(
        l.ends_with("dsn=5.1.1, status=bounced (user unknown)"),
        "{l}"
    );
    let d = dumps(&s.out)
        .into_iter()
        .find(|d| d.contains("Subject: to cmd\n"))
        .expect("the command ran");
    assert!(d.contains("  [0]\n  [arg two]\n"), "{d}");
    assert!(d.contains(&format!("cwd={}/spool", root.display())), "{d}");
    assert!(
        d.contains("\nUSER=cmd\n") && d.contains("\nLOGNAME=cmd\n"),
        "{d}"
    );
    assert!(d.contains("\nRECIPIENT=cmd@test.example\n"), "{d}");
    assert!(d.contains("\nSENDER=sender@far.example\n"), "{d}");
    assert!(d.contains("\nPATH=/usr/bin:/bin\n"), "{d}");
    assert!(!d.contains("\nHOME="), "no user context: {d}");
    assert!(d.contains("stdin:\nFrom sender@far.example  "), "{d}");
    assert!(d.contains("\nDelivered-To: cmd@test.example\n"), "{d}");
    if is_root() {
        // Root's alias table: default_privs, never root.
        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
        assert!(d.starts_with(&format!("uid={} ", nobody.uid)), "{d}");
    } else {
        skip("commands of root-owned aliases run as default_privs");
    }
    // A file and a Maildir.
    let l = wait_line(&s.inst, &["orig_to=<file>"]);
    assert!(
        l.ends_with(&format!(
            "status=sent (delivered to file: {}/files/out.mbox)",
            root.display()
        )),
        "{l}"
    );
    let f = std::fs::read_to_string(root.join("files/out.mbox")).unwrap();
    assert!(f.starts_with("From sender@far.example  "), "{f}");
    assert!(f.ends_with("\nbody\n\n"), "{f}");
    let l = wait_line(&s.inst, &["orig_to=<md>"]);
    assert!(l.ends_with("status=sent (delivered to maildir)"), "{l}");
    assert_eq!(
        std::fs::read_dir(root.join("files/md/new"))
            .unwrap()
            .count(),
        1
    );
    if is_root() {
        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
        let m = std::fs::metadata(root.join("files/out.mbox")).unwrap();
        assert_eq!(
            m.uid(),
            nobody.uid.as_raw(),
            "files of root's aliases: default_privs"
        );
    }
    // :include: addresses are forwarded, keeping the original recipient.
    let l = wait_line(&s.inst, &["to=<incl@test.example>, orig_to=<incl>"]);
    assert!(l.contains("status=sent (forwarded as "), "{l}");
    let l = wait_line(
        &s.inst,
        &[&format!("to=<{u}@test.example>, orig_to=<incl>")],
    );
    assert!(l.ends_with("(delivered to mailbox)"), "{l}");
    // A remote address is forwarded.
    let l = wait_line(&s.inst, &["to=<remote@test.example>, orig_to=<remote>"]);
    assert!(l.contains("status=sent (forwarded as "), "{l}");
    wait_line(
        &s.inst,
        &["to=<someone@far.example>, orig_to=<remote>", "relayed"],
    );
    // An alias that names itself means its user; a longer loop fails.
    let l = wait_line(&s.inst, &["to=<selfish@test.example>, orig_to=<selfish>"]);
    assert!(
        l.ends_with("dsn=5.1.1, status=bounced (unknown user: \"selfish\")"),
        "{l}"
    );
    wait_line(
        &s.inst,
        &[
            &format!("to=<{u}@test.example>, orig_to=<selfish>"),
            "delivered to mailbox",
        ],
    );
    wait_line(&s.inst, &["warning: alias database loop for loop2"]);
    let l = wait_line(&s.inst, &["to=<loop2@test.example>, orig_to=<loop1>"]);
    assert!(
        l.ends_with("dsn=5.4.6, status=bounced (alias database loop for loop2)"),
        "{l}"
    );
    // Duplicates are delivered once; extensions pass through aliases.
    wait_line(&s.inst, &[&format!("to=<{u}@test.example>, orig_to=<dup>")]);
    let l = wait_line(
        &s.inst,
        &[&format!("to=<{u}+alias@test.example>, orig_to=<ext>")],
    );
    assert!(l.ends_with("(delivered to mailbox)"), "{l}");
    wait_line(
        &s.inst,
        &["orig_to=<devnull>", "delivered to file: /dev/null"],
    );
    // Required aliases; unknown users.
    wait_line(
        &s.inst,
        &["warning: required alias not found: mailer-daemon"],
    );
    wait_line(
        &s.inst,
        &["orig_to=<MAILER-DAEMON>", "status=sent (discarded)"],
    );
    let l = wait_line(&s.inst, &["to=<nosuch+x@test.example>"]);
    assert!(
        l.ends_with("dsn=5.1.1, status=bounced (unknown user: \"nosuch\")"),
        "{l}"
    );
    assert_eq!(
        delivery_lines(&s.inst)
            .iter()
            .filter(|l| l.contains("orig_to=<dup>"))
            .count(),
        1
    );
    // Dovecot sees the user's messages.
    let mail = root.join("mail").join(&u);
    if let Some(out) = imap_mbox(
        &s.user,
        &root,
        &mail,
        &[
            "EXAMINE INBOX",
            "FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])",
        ],
    ) {
        for subj in [
            "to root",
            "to both",
            "to incl",
            "to selfish",
            "to dup",
            "to ext",
        ] {
            assert!(
                out.contains(&format!("Subject: {subj}\r\n")),
                "{subj}: {out}"
            );
        }
    }
}

#[test]
fn dotforward_extensions_and_mailbox_command() {
    let s = setup(
        "lforward",
        "postmaster: root\n",
        "forward_path = $ROOT/fwd/$user/.forward${recipient_delimiter}${extension}, $ROOT/fwd/$user/.forward\n",
    );
    let root = s.inst.root.clone();
    let u = s.user.name.clone();
    let dir = root.join("fwd").join(&u);
    std::fs::create_dir_all(&dir).unwrap();
    s.user.own(&dir);
    let fwd = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        s.user.own(&p);
    };
    fwd(
        ".forward",
        &format!(
            "# my forwarding\n\\{u}, elsewhere@far.example\n\"|{}/dump.sh 0 fwd\"\n{}/files/{u}.mbox\n",
            root.display(),
            root.display()
        ),
    );
    fwd(".forward+list", "listed@far.example\n");
    sendmail(
        &s.inst,
        &["-f", "s@far.example", &u],
        "Subject: plain\n\nbody\n",
    );
    sendmail(
        &s.inst,
        &["-f", "s@far.example", &format!("{u}+list")],
        "Subject: ext\n\nbody\n",
    );
    sendmail(
        &s.inst,
        &["-f", "s@far.example", &format!("{u}+other")],
        "Subject: other\n\nbody\n",
    );
    // .forward: the user's own address means the mailbox; commands and
    // files run as the user; addresses are forwarded.
    let l = wait_line(
        &s.inst,
        &[
            &format!("to=<{u}@test.example>, orig_to=<{u}>"),
            "delivered to mailbox",
        ],
    );
    assert!(l.contains("dsn=2.0.0"), "{l}");
    wait_line(
        &s.inst,
        &[
            &format!("orig_to=<{u}>"),
            "delivered to command:",
            "dump.sh 0 fwd",
        ],
    );
    wait_line(
        &s.inst,
        &[
            &format!("orig_to=<{u}>"),
            &format!("delivered to file: {}/files/{u}.mbox", root.display()),
        ],
    );
    wait_line(
        &s.inst,
        &[
            &format!("to=<{u}@test.example>, orig_to=<{u}>"),
            "forwarded as",
        ],
    );
    wait_line(
        &s.inst,
        &["to=<elsewhere@far.example>, orig_to=<", "relayed"],
    );
    let d = dumps(&s.out)
        .into_iter()
        .find(|d| d.contains("Subject: plain"))
        .expect("the .forward command ran");
    assert!(
        d.starts_with(&format!("uid={} gid={}", s.user.uid, s.user.gid)),
        "{d}"
    );
    if is_root() {
        assert!(
            d.contains(&format!("\nHOME={}\n", s.user.home.display())),
            "{d}"
        );
        let m = std::fs::metadata(root.join(format!("files/{u}.mbox"))).unwrap();
        assert_eq!(m.uid(), s.user.uid);
    }
    // user+list: .forward+list; user+other: .forward.
    wait_line(
        &s.inst,
        &[
            &format!("to=<{u}+list@test.example>, orig_to=<{u}+list>"),
            "forwarded as",
        ],
    );
    wait_line(
        &s.inst,
        &[
            "to=<listed@far.example>",
            &format!("orig_to=<{u}+list>"),
            "relayed",
        ],
    );
    wait_line(
        &s.inst,
        &[
            &format!("to=<{u}+other@test.example>"),
            "delivered to command:",
        ],
    );
    // mailbox_command replaces the mailbox, as the user, with the
    // documented environment, values through command_expansion_filter.
    std::fs::remove_file(dir.join(".forward")).unwrap();
    s.inst.write_main_cf(&format!(
        "{}mailbox_command = {}/dump.sh 0 -a \"$EXTENSION\" -d $USER\n",
        s.inst.main_cf(),
        root.display()
    ));
    s.inst.postfix(&["reload"]).success();
    std::thread::sleep(std::time::Duration::from_secs(1));
    sendmail(
        &s.inst,
        &["-f", "odd;name@far.example", &format!("{u}+e$x")],
        "Subject: mc\n\nbody\n",
    );
    let l = wait_line(
        &s.inst,
        &[&format!("to=<{u}+e$x@test.example>"), "status=sent"],
    );
    assert!(
        l.ends_with(&format!(
            "(delivered to command: {}/dump.sh 0 -a \"$EXTENSION\" -d $USER)",
            root.display()
        )),
        "{l}"
    );
    let d = dumps(&s.out)
        .into_iter()
        .find(|d| d.contains("Subject: mc"))
        .expect("mailbox_command ran");
    assert!(
        d.starts_with(&format!("uid={} gid={}", s.user.uid, s.user.gid)),
        "{d}"
    );
    assert!(
        d.contains(&format!("  [-a]\n  [e_x]\n  [-d]\n  [{u}]\n")),
        "{d}"
    );
    for var in [
        format!("USER={u}"),
        format!("LOGNAME={u}"),
        "EXTENSION=e_x".to_string(),
        format!("LOCAL={u}+e_x"),
        "DOMAIN=test.example".to_string(),
        format!("RECIPIENT={u}+e_x@test.example"),
        "SENDER=odd_name@far.example".to_string(),
        "PATH=/usr/bin:/bin".to_string(),
    ] {
        assert!(d.contains(&format!("\n{var}\n")), "{var}: {d}");
    }
}

#[test]
fn refusals_postfix_makes() {
    let s = setup("lrefuse", "incl: :include:$ROOT/files/incl.txt\n", "");
    let root = s.inst.root.clone();
    let u = s.user.name.clone();
    // A symlinked mailbox.
    std::fs::write(root.join("files/target"), "").unwrap();
    std::os::unix::fs::symlink(root.join("files/target"), root.join("mail").join(&u)).unwrap();
    sendmail(
        &s.inst,
        &["-f", "s@far.example", &u],
        "Subject: sym\n\nbody\n",
    );
    let l = wait_line(
        &s.inst,
        &[&format!("to=<{u}@test.example>"), "status=bounced"],
    );
    assert!(
        l.ends_with(&format!(
            "dsn=5.2.0, status=bounced (cannot update mailbox {}/mail/{u} for user {u}. file is a symbolic link)",
            root.display()
        )),
        "{l}"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("files/target")).unwrap(),
        ""
    );
    std::fs::remove_file(root.join("mail").join(&u)).unwrap();
    // A world-writable :include: file.
    let incl = root.join("files/incl.txt");
    std::fs::write(&incl, format!("{u}\n")).unwrap();
    std::fs::set_permissions(&incl, std::fs::Permissions::from_mode(0o666)).unwrap();
    sendmail(
        &s.inst,
        &["-f", "s@far.example", "incl"],
        "Subject: incl\n\nbody\n",
    );
    wait_line(
        &s.inst,
        &[&format!(
            "warning: :include: file {} is world writable",
            incl.display()
        )],
    );
    let l = wait_line(&s.inst, &["to=<incl@test.example>"]);
    assert!(
        l.ends_with("dsn=5.3.5, status=bounced (mail system configuration error)"),
        "{l}"
    );
    // A .forward others may write, or that belongs to someone else: not
    // used, with Postfix's warning; the mailbox gets the mail.
    if !is_root() {
        skip(".forward ownership and permission refusals");
        return;
    }
    let other = s.other.as_ref().unwrap();
    let fwd = s.user.home.join(".forward");
    std::fs::write(&fwd, "elsewhere@far.example\n").unwrap();
    s.user.own(&fwd);
    std::fs::set_permissions(&fwd, std::fs::Permissions::from_mode(0o666)).unwrap();
    sendmail(
        &s.inst,
        &["-f", "s@far.example", &u],
        "Subject: ww\n\nbody\n",
    );
    wait_line(
        &s.inst,
        &[&format!(
            "warning: file {} is world writable",
            fwd.display()
        )],
    );
    wait_line(
        &s.inst,
        &[&format!("to=<{u}@test.example>"), "delivered to mailbox"],
    );
    std::fs::set_permissions(&fwd, std::fs::Permissions::from_mode(0o644)).unwrap();
    other.own(&fwd);
    sendmail(
        &s.inst,
        &["-f", "s@far.example", &u],
        "Subject: owner\n\nbody\n",
    );
    wait_line(
        &s.inst,
        &[&format!(
            "warning: file {} has bad owner uid {}",
            fwd.display(),
            other.uid
        )],
    );
    assert!(wait_for(T, || mbox(&s, &u).contains("Subject: owner")));
    assert!(
        !s.inst.log().contains("elsewhere@far.example"),
        "{}",
        s.inst.log()
    );
    // A mailbox that belongs to someone else is not written.
    let mb = root.join("mail").join(&u);
    other.own(&mb);
    std::fs::set_permissions(&mb, std::fs::Permissions::from_mode(0o666)).unwrap();
    std::fs::remove_file(&fwd).unwrap();
    sendmail(
        &s.inst,
        &["-f", "s@far.example", &u],
        "Subject: notmine\n\nbody\n",
    );
    let l = wait_line(
        &s.inst,
        &[&format!("to=<{u}@test.example>"), "status=deferred"],
    );
    assert!(
        l.ends_with(&format!(
            "dsn=4.2.0, status=deferred (cannot update mailbox {m} for user {u}. destination {m} is not owned by recipient)",
            m = mb.display()
        )),
        "{l}"
    );
}

#[test]
fn delivered_to_loop_luser_relay_and_fallback() {
    let s = setup(
        "lloop",
        "postmaster: root\n",
        "luser_relay = $USERNAME+$local\n",
    );
    let u = s.user.name.clone();
    // setup() does not know the user before: put it in now.
    s.inst
        .write_main_cf(&s.inst.main_cf().replace("$USERNAME", &u));
    s.inst.postfix(&["reload"]).success();
    std::thread::sleep(std::time::Duration::from_secs(1));
    sendmail(
        &s.inst,
        &["-f", "s@far.example", &u],
        &format!("Delivered-To: {u}@test.example\nSubject: loop\n\nbody\n"),
    );
    let l = wait_line(&s.inst, &[&format!("to=<{u}@test.example>"), "bounced"]);
    assert!(
        l.ends_with(&format!(
            "dsn=5.4.6, status=bounced (mail forwarding loop for {u}@test.example)"
        )),
        "{l}"
    );
    sendmail(
        &s.inst,
        &["-f", "s@far.example", "nobodyhere+x"],
        "Subject: luser\n\nbody\n",
    );
    let l = wait_line(&s.inst, &["orig_to=<nobodyhere+x>"]);
    assert!(
        l.contains(&format!(
            "to=<{u}+nobodyhere+x@test.example>, orig_to=<nobodyhere+x>, relay=local"
        )),
        "{l}"
    );
    assert!(l.ends_with("(delivered to mailbox)"), "{l}");
    s.inst.write_main_cf(&format!(
        "{}fallback_transport = discard:fallback text\nmailbox_transport_maps = inline:{{{u}@test.example=discard:mbt}}\n",
        s.inst.main_cf()
    ));
    s.inst.postfix(&["reload"]).success();
    std::thread::sleep(std::time::Duration::from_secs(1));
    sendmail(
        &s.inst,
        &["-f", "s@far.example", "nobodyhere2"],
        "Subject: fb\n\nbody\n",
    );
    sendmail(
        &s.inst,
        &["-f", "s@far.example", &u],
        "Subject: mbt\n\nbody\n",
    );
    wait_line(
        &s.inst,
        &["passing <nobodyhere2@test.example> to transport=discard"],
    );
    let l = wait_line(
        &s.inst,
        &["to=<nobodyhere2@test.example>", "postfix/discard["],
    );
    assert!(l.ends_with("status=sent (fallback text)"), "{l}");
    wait_line(
        &s.inst,
        &[&format!("passing <{u}@test.example> to transport=discard")],
    );
    wait_line(
        &s.inst,
        &[&format!("to=<{u}@test.example>"), "status=sent (mbt)"],
    );
    // Both are done: the queue empties.
    assert!(
        wait_for(T, || s.inst.log().matches(": removed").count() >= 4),
        "{}",
        s.inst.log()
    );
}

/// Lines of a file that is still changing, for the kill test.
fn size_of(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn kill_9_during_mailbox_delivery_leaves_no_half_message() {
    let s = setup(
        "lkill",
        "postmaster: root\n",
        "message_size_limit = 0\nmailbox_size_limit = 0\nminimal_backoff_time = 2s\nmaximal_backoff_time = 2s\nqueue_run_delay = 1s\n",
    );
    let u = s.user.name.clone();
    let mb = s.inst.root.join("mail").join(&u);
    // A large message, so that the write takes a while.
    let mut body = String::from("Subject: big\n\n");
    let line = "0123456789012345678901234567890123456789012345678901234567890123456789\n";
    while body.len() < 40 << 20 {
        body.push_str(line);
    }
    sendmail(
        &s.inst,
        &["-f", "s@far.example", &u],
        "Subject: small\n\nfirst\n",
    );
    wait_line(
        &s.inst,
        &[&format!("to=<{u}@test.example>"), "delivered to mailbox"],
    );
    let before = size_of(&mb);
    // First only the agent is killed (its writer finishes the message),
    // then the agent and its writer (the next delivery removes the half
    // message before it appends).
    for only_agent in [true, false] {
        let mut caught = false;
        for _ in 0..3 {
            let removed = s.inst.log().matches(": removed").count();
            enqueue(
                &s.inst,
                "s@far.example",
                &[&format!("{u}@test.example")],
                body.as_bytes(),
            );
            let start = size_of(&mb);
            let mut killed = false;
            wait_for(T, || {
                let now = size_of(&mb);
                if now > start && now < start + (body.len() as u64) {
                    let procs: Vec<_> = s
                        .inst
                        .processes()
                        .into_iter()
                        .filter(|p| p.program() == "local")
                        .collect();
                    for p in &procs {
                        let is_writer = procs.iter().any(|q| q.pid == p.ppid);
                        if only_agent && is_writer {
                            continue;
                        }
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(p.pid),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                        killed = true;
                    }
                }
                killed || now >= start + body.len() as u64
            });
            // Delivered again (or for the first time) in full.
            assert!(
                wait_for(T * 2, || s.inst.log().matches(": removed").count()
                    > removed),
                "{}",
                s.inst.log()
            );
            if killed {
                caught = true;
                break;
            }
        }
        if !caught {
            eprintln!("SKIPPED: the mailbox write was too fast to interrupt");
            return;
        }
        assert!(
            s.inst.log().contains("killed by signal 9"),
            "{}",
            s.inst.log()
        );
    }
    // Every message in the mailbox is whole.
    let text = std::fs::read_to_string(&mb).unwrap();
    let msgs = mbox_messages(&text);
    assert!(text.len() as u64 > before);
    for m in &msgs[1..] {
        assert!(m.contains("Subject: big"), "unexpected message");
        assert!(
            m.ends_with(&format!("{line}\n")),
            "a cut message: {} bytes",
            m.len()
        );
        assert_eq!(m.matches(line).count(), body.matches(line).count());
    }
    assert!(!s.inst.root.join("mail").join(format!("{u}.lock")).exists());
    if let Some(out) = imap_mbox(&s.user, &s.inst.root, &mb, &["EXAMINE INBOX"]) {
        assert!(out.contains(&format!("* {} EXISTS", msgs.len())), "{out}");
    }
}
