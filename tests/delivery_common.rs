//! What the local(8), virtual(8) and pipe(8) end-to-end tests share: an
//! instance with the delivery agents, throwaway users, sendmail, a script
//! that records how it was run, and Dovecot's IMAP server as the mail
//! reader.
#![allow(dead_code)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use testkit::{Instance, MINIMAL_MASTER_CF, is_root, wait_for};

pub const T: Duration = Duration::from_secs(30);

pub const MASTER_CF: &str = "pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
";

/// Says loudly that part of a test needs root.
pub fn skip(what: &str) {
    eprintln!("SKIPPED (needs root): {what}");
}

/// A user for one test: created with useradd as root (and removed by
/// name when dropped), or the user running the tests otherwise.
pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    created: bool,
}

static USERS: AtomicUsize = AtomicUsize::new(0);

impl TestUser {
    /// A new user whose home is `home` (created, owned by the user).
    pub fn new(home_parent: &Path) -> TestUser {
        if !is_root() {
            let me = nix::unistd::User::from_uid(nix::unistd::geteuid())
                .ok()
                .flatten()
                .expect("current user in passwd");
            return TestUser {
                name: me.name,
                uid: me.uid.as_raw(),
                gid: me.gid.as_raw(),
                home: me.dir,
                created: false,
            };
        }
        let n = USERS.fetch_add(1, Ordering::SeqCst);
        let name = format!("mtd{:x}u{}", std::process::id() & 0xfffff, n);
        let home = home_parent.join(&name);
        let st = Command::new("useradd")
            .args(["-M", "-U", "-s", "/bin/sh", "-d"])
            .arg(&home)
            .arg(&name)
            .status()
            .expect("run useradd");
        assert!(st.success(), "useradd {name} failed");
        let u = nix::unistd::User::from_name(&name)
            .ok()
            .flatten()
            .expect("new user in passwd");
        std::fs::create_dir_all(&home).unwrap();
        nix::unistd::chown(&home, Some(u.uid), Some(u.gid)).unwrap();
        TestUser {
            name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            home,
            created: true,
        }
    }

    /// Gives `path` to this user.
    pub fn own(&self, path: &Path) {
        if is_root() {
            nix::unistd::chown(
                path,
                Some(nix::unistd::Uid::from_raw(self.uid)),
                Some(nix::unistd::Gid::from_raw(self.gid)),
            )
            .unwrap();
        }
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        if self.created {
            let _ = Command::new("userdel").arg(&self.name).status();
        }
    }
}

/// An instance with the delivery agents; `extra` goes to main.cf.
pub fn instance(name: &str, extra: &str, master_extra: &str) -> Instance {
    let inst = Instance::builder(name)
        .installed()
        .master_cf(&format!("{MINIMAL_MASTER_CF}{MASTER_CF}{master_extra}"))
        .main_cf(extra)
        .build();
    std::fs::set_permissions(&inst.root, std::fs::Permissions::from_mode(0o755)).unwrap();
    inst
}

pub fn start(inst: &Instance) {
    inst.start();
    assert!(inst.wait_log("daemon started", T), "{}", inst.log());
}

/// Runs sendmail with `args` and `message` on stdin; panics unless it
/// exits 0.
pub fn sendmail(inst: &Instance, args: &[&str], message: &str) {
    let mut child = Command::new(inst.program("sendmail"))
        .args(args)
        .env("MAIL_CONFIG", &inst.etc)
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
    assert!(
        out.status.success(),
        "sendmail {:?}: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Commits a message to `incoming` as cleanup(8) would (for content
/// larger than the submission path takes in one piece) and wakes qmgr.
pub fn enqueue(inst: &Instance, sender: &str, rcpts: &[&str], content: &[u8]) -> String {
    use queue::{Layout, NewRecipient, RecordType, Writer};
    let layout = Layout::new(&inst.spool());
    let mut w = Writer::create(&layout, "incoming").expect("create queue file");
    w.time(std::time::SystemTime::now()).unwrap();
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
    w.content(content).unwrap();
    w.end_content().unwrap();
    let path = w.path().to_path_buf();
    let id = w.commit().unwrap();
    if is_root() {
        let owner = nix::unistd::User::from_name("postfix").unwrap().unwrap();
        nix::unistd::chown(&path, Some(owner.uid), Some(owner.gid)).unwrap();
    }
    ipc::trigger(&inst.spool(), ipc::Class::Public, "qmgr", b"I").expect("trigger qmgr");
    id.to_string()
}

/// A directory anyone may write (sticky), for mailboxes and records.
pub fn open_dir(path: &Path) -> PathBuf {
    std::fs::create_dir_all(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o1777)).unwrap();
    path.to_path_buf()
}

/// A script that records how it was run (identity, directory, argv,
/// environment, standard input) in a new file under `out`, prints
/// `$DUMP_OUTPUT` and exits with `$DUMP_EXIT` or its first argument
/// when that is a number.
pub fn dump_script(dir: &Path, out: &Path) -> PathBuf {
    let p = dir.join("dump.sh");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\n\
             f={out}/$(date +%s%N).$$\n\
             {{ echo \"uid=$(id -u) gid=$(id -g) groups=$(id -G) cwd=$(pwd)\"; echo argv:; \
             for a in \"$0\" \"$@\"; do echo \"  [$a]\"; done; echo env:; env | sort; echo stdin:; cat; }} > $f.tmp 2>&1\n\
             mv $f.tmp $f\n\
             case \"$1\" in [0-9]*) exit $1 ;; esac\n\
             exit 0\n",
            out = out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// The records the dump script left, oldest first.
pub fn dumps(out: &Path) -> Vec<String> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(out)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_none_or(|e| e != "tmp"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect()
}

/// The delivery log lines of the instance (agents only).
pub fn delivery_lines(inst: &Instance) -> Vec<String> {
    inst.log()
        .lines()
        .filter(|l| l.contains(": to=<"))
        .map(String::from)
        .collect()
}

/// Waits for a delivery line that contains all of `parts`.
#[track_caller]
pub fn wait_line(inst: &Instance, parts: &[&str]) -> String {
    let mut found = String::new();
    let ok = wait_for(T, || {
        match delivery_lines(inst)
            .into_iter()
            .chain(inst.log().lines().map(String::from))
            .find(|l| parts.iter().all(|p| l.contains(p)))
        {
            Some(l) => {
                found = l;
                true
            }
            None => false,
        }
    });
    assert!(ok, "no log line with {parts:?}:\n{}", inst.log());
    found
}

/// Runs Dovecot's IMAP server pre-authenticated as `user` on the mail in
/// `location` (a Dovecot mail_location) and returns what it answered to
/// `commands`; `None` when Dovecot is not installed (`.ci/run` installs
/// dovecot-imapd).
pub fn imap(user: &TestUser, scratch: &Path, location: &str, commands: &[&str]) -> Option<String> {
    let imapd = Path::new("/usr/lib/dovecot/imap");
    if !imapd.exists() {
        eprintln!("SKIPPED: Dovecot's imap is not installed (apt-get install dovecot-imapd)");
        return None;
    }
    let dir = scratch.join(format!("dovecot-{}", user.name));
    for sub in ["run", "home", "empty"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        user.own(&dir.join(sub));
    }
    user.own(&dir);
    let conf = dir.join("dovecot.conf");
    std::fs::write(
        &conf,
        format!(
            "base_dir = {d}/run\nstate_dir = {d}/run\nlog_path = /dev/stderr\nssl = no\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let mut script = String::new();
    for (i, c) in commands.iter().enumerate() {
        script.push_str(&format!("t{i} {c}\r\n"));
    }
    script.push_str("z LOGOUT\r\n");
    let mut cmd = if is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            format!("--reuid={}", user.uid),
            format!("--regid={}", user.gid),
            "--clear-groups".into(),
            "--".into(),
        ]);
        c.arg(imapd);
        c
    } else {
        Command::new(imapd)
    };
    cmd.arg("-c")
        .arg(&conf)
        .arg("-o")
        .arg(format!(
            "mail_location={}",
            location.replace("$EMPTY", &dir.join("empty").display().to_string())
        ))
        .env_clear()
        .env("HOME", dir.join("home"))
        .env("USER", &user.name)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run dovecot imap");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("z OK"),
        "imap: {}\n{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    Some(text)
}

/// Dovecot on a mailbox file as the INBOX.
pub fn imap_mbox(
    user: &TestUser,
    scratch: &Path,
    mbox: &Path,
    commands: &[&str],
) -> Option<String> {
    imap(
        user,
        scratch,
        &format!("mbox:$EMPTY:INBOX={}:INDEX=MEMORY", mbox.display()),
        commands,
    )
}

/// Dovecot on a Maildir as the INBOX.
pub fn imap_maildir(
    user: &TestUser,
    scratch: &Path,
    dir: &Path,
    commands: &[&str],
) -> Option<String> {
    imap(
        user,
        scratch,
        &format!("maildir:{}:INDEX=MEMORY", dir.display()),
        commands,
    )
}

/// The messages of an mbox file, split at `From ` lines after an empty
/// line (or at the start).
pub fn mbox_messages(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut prev_empty = true;
    for line in text.split_inclusive('\n') {
        if prev_empty && line.starts_with("From ") {
            out.push(String::new());
        }
        if let Some(m) = out.last_mut() {
            m.push_str(line);
        }
        prev_empty = line == "\n";
    }
    out
}
