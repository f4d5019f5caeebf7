//! End-to-end tests of local submission: sendmail(1) and postdrop(1)
//! into maildrop/, pickup(8), cleanup(8), qmgr(8), and the discard agent,
//! on an instance installed the way a package installs it.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use testkit::{Instance, MINIMAL_MASTER_CF, is_root, wait_for};

const T: Duration = Duration::from_secs(20);

const MASTER_CF: &str = "pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
discard   unix  -       -       n       -       -       discard
";

fn instance(name: &str) -> Instance {
    let inst = Instance::builder(name)
        .installed()
        .master_cf(&format!("{MINIMAL_MASTER_CF}{MASTER_CF}"))
        .main_cf("default_transport = discard:thrown away\nlocal_transport = discard:local mail\n")
        .build();
    inst.start();
    assert!(inst.wait_log("daemon started", T));
    inst
}

/// Runs sendmail with `args` and `message` on stdin, as `user` if given.
fn sendmail(inst: &Instance, user: Option<&str>, args: &[&str], message: &str) -> (i32, String) {
    let path = inst.program("sendmail");
    let mut cmd = match user {
        Some(u) => {
            let id = nix::unistd::User::from_name(u).unwrap().unwrap();
            let mut c = Command::new("setpriv");
            c.args([
                format!("--reuid={}", id.uid),
                format!("--regid={}", id.gid),
                "--clear-groups".into(),
                "--".into(),
            ]);
            c.arg(&path);
            c
        }
        None => Command::new(&path),
    };
    let mut child = cmd
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
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn queue_is_empty(inst: &Instance) -> bool {
    ["maildrop", "incoming", "active", "deferred"]
        .iter()
        .all(|q| {
            std::fs::read_dir(inst.spool().join(q))
                .map(|d| d.count() == 0)
                .unwrap_or(true)
        })
}

#[test]
fn sendmail_t_is_queued_and_delivered() {
    let mut inst = instance("sendmail");
    let (code, err) = sendmail(
        &inst,
        None,
        &["-t", "-i", "-F", "Cron Daemon"],
        "To: Alice <alice@far.example>, bob@far.example\r\nBcc: hidden@far.example\r\nSubject: cron\r\n\r\n.\r\nbody\r\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        wait_for(T, || inst
            .log()
            .matches("status=sent (thrown away)")
            .count()
            == 3),
        "{}",
        inst.log()
    );
    let log = inst.log();
    for r in ["alice@far.example", "bob@far.example", "hidden@far.example"] {
        assert!(log.contains(&format!("to=<{r}>")), "{r}: {log}");
    }
    assert!(log.contains("postfix/pickup["), "{log}");
    assert!(log.contains(" uid=0 from=<root>"), "{log}");
    assert!(
        log.contains("postfix/cleanup[") && log.contains(": message-id=<"),
        "{log}"
    );
    assert!(log.contains("from=<root@test.example>, size="), "{log}");
    assert!(wait_for(T, || inst.log().contains(": removed")));
    assert!(wait_for(T, || queue_is_empty(&inst)));
    inst.stop();
}

#[test]
fn sendmail_errors_and_exit_codes() {
    let mut inst = instance("sendmailerr");
    let (code, err) = sendmail(&inst, None, &[], "Subject: x\n\nbody\n");
    assert_eq!(code, 64, "{err}");
    assert!(
        err.contains(
            "Recipient addresses must be specified on the command line or via the -t option"
        ),
        "{err}"
    );
    let (code, err) = sendmail(&inst, None, &["-Z"], "");
    assert_eq!(code, 64, "{err}");
    inst.stop();
}

#[test]
fn a_local_user_submits_through_setgid_postdrop() {
    if !is_root() {
        eprintln!("skipped: needs root to run as another user");
        return;
    }
    let mut inst = instance("postdrop");
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let (code, err) = sendmail(
        &inst,
        Some("nobody"),
        &["user@far.example"],
        "Subject: from nobody\n\nhi\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(inst.wait_log("to=<user@far.example>", T), "{}", inst.log());
    assert!(
        inst.log()
            .contains(&format!(" uid={} from=<nobody>", nobody.uid)),
        "{}",
        inst.log()
    );
    // Without postdrop's set-gid bit, a user cannot queue mail.
    std::fs::remove_file(inst.program("postdrop")).unwrap();
    let (code, _) = sendmail(
        &inst,
        Some("nobody"),
        &["user@far.example"],
        "Subject: x\n\nhi\n",
    );
    assert_ne!(code, 0);
    inst.stop();
}

#[test]
fn hostile_maildrop_files_are_removed_with_a_warning() {
    if !is_root() {
        eprintln!("skipped: needs root to place files as another user");
        return;
    }
    let mut inst = instance("hostile");
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let maildrop = inst.spool().join("maildrop");
    let put = |name: &str, bytes: &[u8]| {
        let p = maildrop.join(name);
        std::fs::write(&p, bytes).unwrap();
        std::os::unix::fs::PermissionsExt::set_mode(
            &mut std::fs::metadata(&p).unwrap().permissions(),
            0o744,
        );
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o744)).unwrap();
        nix::unistd::chown(&p, Some(nobody.uid), Some(nobody.gid)).unwrap();
    };
    put("AAAAA1", b"garbage, not records");
    put("AAAAA2", b"RMQ1\nT\x0a123 0"); // truncated
    put("AAAAA3", b"RMQ1\nZ\x01x");
    std::os::unix::fs::symlink("/etc/passwd", maildrop.join("AAAAA4")).unwrap();
    let huge = vec![b'x'; 20 * 1024 * 1024];
    put("AAAAA5", &huge);
    // A good message after them still goes through.
    let (code, err) = sendmail(&inst, None, &["after@far.example"], "Subject: ok\n\nok\n");
    assert_eq!(code, 0, "{err}");
    assert!(inst.wait_log("to=<after@far.example>", T), "{}", inst.log());
    assert!(
        wait_for(T, || std::fs::read_dir(&maildrop).unwrap().count() == 0),
        "{:?}",
        std::fs::read_dir(&maildrop).unwrap().collect::<Vec<_>>()
    );
    let log = inst.log();
    assert!(
        log.matches(&format!("warning: uid={}: ", nobody.uid))
            .count()
            >= 4,
        "{log}"
    );
    assert!(!log.contains("fatal"), "{log}");
    assert!(!log.contains("panic"), "{log}");
    inst.stop();
}

#[test]
fn killing_daemons_loses_no_acknowledged_message() {
    let mut inst = Instance::builder("kill9")
        .installed()
        .master_cf(&format!("{MINIMAL_MASTER_CF}{MASTER_CF}"))
        .main_cf("default_transport = discard:thrown away\nservice_throttle_time = 1s\n")
        .build();
    inst.start();
    assert!(inst.wait_log("daemon started", T));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let killer = {
        let stop = stop.clone();
        let etc = inst.etc.clone();
        let spool = inst.spool();
        std::thread::spawn(move || {
            let mut seed: u64 = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64;
            let mut kills = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                std::thread::sleep(Duration::from_millis(20 + (seed >> 58)));
                let Some(master) = std::fs::read_to_string(spool.join("pid/master.pid"))
                    .ok()
                    .and_then(|t| t.trim().parse::<i32>().ok())
                else {
                    continue;
                };
                let victims: Vec<testkit::Proc> = std::fs::read_dir("/proc")
                    .unwrap()
                    .flatten()
                    .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
                    .filter_map(testkit::Proc::read)
                    .filter(|p| {
                        p.ppid == master
                            && ["pickup", "cleanup", "qmgr"].contains(&p.program().as_str())
                    })
                    .collect();
                if victims.is_empty() {
                    continue;
                }
                let v = &victims[(seed >> 33) as usize % victims.len()];
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(v.pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
                kills += 1;
            }
            let _ = etc;
            kills
        })
    };
    let mut acked = Vec::new();
    for i in 0..120 {
        let rcpt = format!("r{i}@far.example");
        let (code, _) = sendmail(
            &inst,
            None,
            &[&rcpt],
            &format!("Subject: {i}\n\nmessage {i}\n"),
        );
        if code == 0 {
            acked.push(rcpt);
        }
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let kills = killer.join().unwrap();
    assert!(kills > 5, "the test killed only {kills} daemons");
    assert_eq!(acked.len(), 120, "sendmail does not depend on the daemons");
    // Wake everything once more; restarted daemons pick up what is left.
    let ok = wait_for(Duration::from_secs(60), || {
        let _ = ipc::trigger(&inst.spool(), ipc::Class::Public, "pickup", b"W");
        let _ = ipc::trigger(&inst.spool(), ipc::Class::Public, "qmgr", b"I");
        let log = inst.log();
        acked
            .iter()
            .all(|r| log.contains(&format!("to=<{r}>, relay=none")))
    });
    let log = inst.log();
    let missing: Vec<&String> = acked
        .iter()
        .filter(|r| !log.contains(&format!("to=<{r}>, relay=none")))
        .collect();
    assert!(ok, "lost after {kills} kills: {missing:?}");
    assert!(log.contains("killed by signal 9"));
    inst.stop();
}
