//! End-to-end tests of master(8) and postfix(1) on private instances,
//! started, reloaded and stopped the way an administrator does it.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use testkit::{Instance, MINIMAL_MASTER_CF, Proc, alive, is_root, wait_for};

const T: Duration = Duration::from_secs(10);

fn children_named(inst: &Instance, program: &str) -> Vec<Proc> {
    let master = inst.master_pid().expect("master runs");
    inst.processes()
        .into_iter()
        .filter(|p| p.ppid == master && p.program() == program)
        .collect()
}

/// The stock master.cf, with the SMTP service on a private port.
fn stock_master_cf() -> String {
    let text =
        std::fs::read_to_string(testkit::repo_dir().join("master.cf")).expect("read master.cf");
    text.replacen("smtp      inet", "127.0.0.1:$PORT inet", 1)
}

#[test]
fn stock_master_cf_brings_up_every_listener() {
    let mut inst = Instance::builder("stock")
        .master_cf(&stock_master_cf())
        .build();
    inst.start();
    let status = inst.postfix(&["status"]).success();
    let pid = inst.master_pid().expect("master pid");
    assert!(
        inst.wait_log(
            &format!("the Postfix mail system is running: PID: {pid}"),
            T
        ),
        "{}",
        inst.log()
    );
    assert!(
        status.stderr.is_empty(),
        "no terminal, no stderr: {status:?}"
    );
    // Every unix-domain service has its socket where master.cf says.
    let services = [
        ("public", "pickup"),
        ("public", "cleanup"),
        ("public", "qmgr"),
        ("private", "tlsmgr"),
        ("private", "rewrite"),
        ("private", "bounce"),
        ("private", "defer"),
        ("private", "trace"),
        ("private", "verify"),
        ("public", "flush"),
        ("private", "proxymap"),
        ("private", "proxywrite"),
        ("private", "smtp"),
        ("private", "relay"),
        ("public", "showq"),
        ("private", "error"),
        ("private", "retry"),
        ("private", "discard"),
        ("private", "local"),
        ("private", "virtual"),
        ("private", "lmtp"),
        ("private", "anvil"),
        ("private", "scache"),
        ("public", "postlog"),
        ("private", "maildrop"),
        ("private", "uucp"),
        ("private", "ifmail"),
        ("private", "bsmtp"),
        ("private", "scalemail-backend"),
        ("private", "mailman"),
    ];
    for (dir, name) in services {
        let p = inst.spool().join(dir).join(name);
        assert!(p.exists(), "missing {}", p.display());
    }
    // The inet listener accepts connections.
    assert!(std::net::TcpStream::connect(("127.0.0.1", inst.port)).is_ok());
    inst.stop();
    assert!(
        inst.processes().is_empty(),
        "left behind: {:?}",
        inst.processes()
    );
    assert!(inst.master_pid().is_none());
}

#[test]
fn status_and_master_test_mode() {
    let mut inst = Instance::builder("status").build();
    let r = inst.postfix(&["status"]);
    assert_eq!(r.code, 1);
    assert_eq!(inst.run("master", &["-t"]).code, 0);
    let r = inst.postfix(&["stop"]);
    assert_eq!(r.code, 1);
    inst.start();
    assert_eq!(inst.run("master", &["-t"]).code, 1);
    assert_eq!(inst.postfix(&["status"]).code, 0);
    // A second start, and a second master, are refused.
    assert_eq!(inst.postfix(&["start"]).code, 1);
    assert!(inst.wait_log("fatal: the Postfix mail system is already running", T));
    let etc = inst.etc.display().to_string();
    assert_eq!(inst.run("master", &["-c", &etc]).code, 1);
    inst.stop();
    let log = inst.log();
    assert!(log.contains("postfix/postfix-script["), "{log}");
    assert!(log.contains("stopping the Postfix mail system"), "{log}");
    assert!(inst.processes().is_empty());
}

#[test]
fn reload_applies_main_cf_and_master_cf_changes() {
    let mut inst = Instance::builder("reload")
        .master_cf(&format!(
            "{MINIMAL_MASTER_CF}gone unix-dgram n - n - 1 postlogd\n"
        ))
        .build();
    inst.start();
    assert!(inst.spool().join("public/gone").exists());
    let pid = inst.master_pid().unwrap();
    inst.write_master_cf(&format!(
        "{MINIMAL_MASTER_CF}added unix-dgram n - n - 1 postlogd\n"
    ));
    let main = inst.main_cf() + "syslog_name = reloaded\n";
    inst.write_main_cf(&main);
    inst.postfix(&["reload"]).success();
    assert!(inst.wait_log("reloaded/master[", T), "{}", inst.log());
    assert!(inst.wait_log("reload -- version", T));
    assert!(wait_for(T, || inst.spool().join("public/added").exists()));
    assert!(
        !inst.spool().join("public/gone").exists(),
        "removed service keeps its socket"
    );
    assert_eq!(
        inst.master_pid(),
        Some(pid),
        "reload must not restart master"
    );
    // The new service works: a record sent to it is logged.
    let d = UnixDatagram::unbound().unwrap();
    d.send_to(
        b"test/added[1]: via the added service",
        inst.spool().join("public/added"),
    )
    .unwrap();
    assert!(inst.wait_log("via the added service", T), "{}", inst.log());
    inst.stop();
    assert!(inst.processes().is_empty());
}

#[test]
fn killed_daemon_is_replaced() {
    let mut inst = Instance::builder("kill").build();
    inst.start();
    assert!(inst.wait_log("daemon started", T));
    assert!(wait_for(T, || children_named(&inst, "postlogd").len() == 1));
    let old = children_named(&inst, "postlogd")[0].pid;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(old),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(wait_for(T, || !alive(old)), "old postlogd not reaped");
    inst.run("postlog", &["after the kill"]).success();
    assert!(inst.wait_log("after the kill", T), "{}", inst.log());
    let new = children_named(&inst, "postlogd");
    assert_eq!(new.len(), 1);
    assert_ne!(new[0].pid, old);
    let log = inst.log();
    assert!(
        log.contains(&format!("pid {old} killed by signal 9")),
        "{log}"
    );
    assert!(!log.contains("throttling"), "{log}");
    inst.stop();
    assert!(inst.processes().is_empty());
}

#[test]
fn missing_program_is_throttled_and_the_rest_keeps_working() {
    let mut inst = Instance::builder("missing")
        .master_cf(&format!(
            "{MINIMAL_MASTER_CF}nosuch unix n - n 1 1 nosuchprogram\n"
        ))
        .build();
    inst.start();
    let path = inst.bin.join("nosuchprogram");
    let exec = format!(
        "fatal: master_spawn: exec {}: No such file or directory",
        path.display()
    );
    assert!(inst.wait_log(&exec, T), "{}", inst.log());
    assert!(inst.wait_log(
        &format!(
            "warning: {}: bad command startup -- throttling",
            path.display()
        ),
        T
    ));
    // No tight loop: the wakeup every second does not start it again.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(inst.log().matches(&exec).count(), 1, "{}", inst.log());
    inst.run("postlog", &["still serving"]).success();
    assert!(inst.wait_log("postfix/postlog[", T));
    assert!(inst.master_pid().is_some());
    inst.stop();
    assert!(inst.processes().is_empty());
}

/// `postfix start` with a broken configuration: exit 1, a message that
/// names the file and line, and nothing left running.
fn refuses(main_extra: &str, master_cf: &str, message: &str) {
    let mut inst = Instance::builder("refuse")
        .main_cf(main_extra)
        .master_cf(master_cf)
        .build();
    let r = inst.postfix(&["start"]);
    assert_eq!(r.code, 1, "{r:?}");
    let all = format!("{}{}", r.stderr, inst.log());
    assert!(all.contains(message), "expected {message:?} in {all:?}");
    assert!(inst.master_pid().is_none());
    // master refuses too, when started directly.
    let etc = inst.etc.display().to_string();
    assert_eq!(inst.run("master", &["-c", &etc, "-w"]).code, 1);
    inst.stop();
    assert!(inst.processes().is_empty());
}

#[test]
fn bad_main_cf_syntax() {
    refuses(
        "foo\n",
        MINIMAL_MASTER_CF,
        "main.cf, line 14: missing '=' after attribute name: \"foo\"",
    );
}

#[test]
fn bad_number() {
    refuses(
        "max_use = lots\n",
        MINIMAL_MASTER_CF,
        "main.cf, line 14: bad numerical configuration: max_use = lots",
    );
}

#[test]
fn expansion_loop() {
    refuses(
        "a = x$b\nb = $a\n",
        MINIMAL_MASTER_CF,
        "recursive parameter expansion",
    );
}

#[test]
fn bad_master_cf_field_count() {
    refuses(
        "",
        &format!("{MINIMAL_MASTER_CF}smtp inet n - n - -\n"),
        "master.cf, line 2: bad field count",
    );
}

#[test]
fn bad_master_cf_field() {
    refuses(
        "",
        &format!("{MINIMAL_MASTER_CF}smtp inet n - n soon - smtpd\n"),
        "invalid wakeup field \"soon\"",
    );
}

#[test]
fn unknown_inet_service() {
    refuses(
        "",
        &format!("{MINIMAL_MASTER_CF}nosuchsvc inet n - n - - smtpd\n"),
        "unknown service: nosuchsvc/tcp",
    );
}

#[test]
fn bad_override_in_master_cf() {
    refuses(
        "",
        &format!("{MINIMAL_MASTER_CF}x unix - - n - - postlogd -o max_idle=soon\n"),
        "master.cf, line 2: service x/unix: -o max_idle: bad time configuration: max_idle = soon",
    );
}

#[test]
fn reload_with_bad_configuration_keeps_the_old_one() {
    let mut inst = Instance::builder("badreload").build();
    inst.start();
    let pid = inst.master_pid().unwrap();
    // postlogd must be up before main.cf breaks: a daemon started after
    // that would fail on the bad value, as with Postfix.
    assert!(inst.wait_log("daemon started", T));
    let good = inst.main_cf();
    inst.write_main_cf(&format!("{good}max_use = lots\n"));
    assert_eq!(inst.postfix(&["reload"]).code, 1);
    // Even a SIGHUP straight to master keeps the old configuration.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    assert!(
        inst.wait_log("configuration not reloaded", T),
        "{}",
        inst.log()
    );
    assert!(
        inst.log()
            .contains("bad numerical configuration: max_use = lots")
    );
    assert_eq!(inst.master_pid(), Some(pid));
    inst.run("postlog", &["old configuration serves"]).success();
    assert!(inst.wait_log("old configuration serves", T));
    inst.write_main_cf(&good);
    inst.postfix(&["reload"]).success();
    assert!(inst.wait_log("reload -- version", T));
    inst.stop();
    assert!(inst.processes().is_empty());
}

#[test]
fn abort_stops_everything() {
    let mut inst = Instance::builder("abort").build();
    inst.start();
    assert!(wait_for(T, || inst.processes().len() >= 2));
    inst.postfix(&["abort"]).success();
    assert!(
        wait_for(T, || inst.processes().is_empty()),
        "{:?}",
        inst.processes()
    );
    assert!(inst.log().contains("aborting the Postfix mail system"));
    inst.stop();
}

#[test]
fn as_root_daemons_run_as_mail_owner_and_chrooted_where_master_cf_says() {
    if !is_root()
        || nix::unistd::User::from_name("postfix")
            .ok()
            .flatten()
            .is_none()
    {
        eprintln!("skipped: needs root and a postfix user");
        return;
    }
    let owner = nix::unistd::User::from_name("postfix").unwrap().unwrap();
    let mut inst = Instance::builder("privs")
        .master_cf(&format!(
            "{MINIMAL_MASTER_CF}jail unix-dgram n - y - 1 postlogd\n"
        ))
        .build();
    inst.start();
    let d = UnixDatagram::unbound().unwrap();
    d.send_to(
        b"test/jail[1]: from the jail",
        inst.spool().join("public/jail"),
    )
    .unwrap();
    assert!(inst.wait_log("from the jail", T), "{}", inst.log());
    let master = inst.master_pid().unwrap();
    assert_eq!(Proc::read(master).unwrap().uid, 0);
    let kids: Vec<Proc> = inst
        .processes()
        .into_iter()
        .filter(|p| p.ppid == master)
        .collect();
    assert_eq!(kids.len(), 2, "{kids:?}");
    for k in &kids {
        assert_eq!(k.uid, owner.uid.as_raw(), "{k:?}");
        let jailed = k.cmdline.iter().any(|a| a == "jail");
        let spool = inst.spool().canonicalize().unwrap();
        if jailed {
            assert_eq!(k.root, spool, "{k:?}");
        } else {
            assert_eq!(k.root, std::path::Path::new("/"), "{k:?}");
        }
    }
    // The queue directories have Postfix's owners.
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(inst.spool().join("incoming"))
            .unwrap()
            .uid(),
        owner.uid.as_raw()
    );
    assert_eq!(
        std::fs::metadata(inst.spool().join("pid")).unwrap().uid(),
        0
    );
    inst.stop();
    assert!(inst.processes().is_empty());
}

#[test]
fn unprivileged_instance_runs_everything_as_its_user() {
    let user = if is_root() { "nobody" } else { "" };
    let mut b = Instance::builder("unpriv");
    if !user.is_empty() {
        if nix::unistd::User::from_name(user).ok().flatten().is_none()
            || std::process::Command::new("setpriv")
                .arg("--help")
                .output()
                .is_err()
        {
            eprintln!("skipped: needs user nobody and setpriv");
            return;
        }
        b = b.as_user(user);
    }
    let mut inst = b.build();
    inst.start();
    assert!(inst.wait_log("daemon started", T), "{}", inst.log());
    let uid = if user.is_empty() {
        nix::unistd::geteuid().as_raw()
    } else {
        nix::unistd::User::from_name(user)
            .unwrap()
            .unwrap()
            .uid
            .as_raw()
    };
    assert!(wait_for(T, || inst.processes().len() >= 2));
    for p in inst.processes() {
        assert_eq!(p.uid, uid, "{p:?}");
    }
    inst.postfix(&["status"]).success();
    inst.stop();
    assert!(inst.processes().is_empty(), "{:?}", inst.processes());
}
