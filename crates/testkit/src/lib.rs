//! # NAME
//! testkit — private instances for end-to-end tests (development only)
//!
//! ## SYNOPSIS
//! ```ignore
//! let inst = Instance::builder("reload").master_cf(MINIMAL_MASTER_CF).build();
//! inst.postfix(&["start"]).success();
//! assert!(inst.wait_log("daemon started", Duration::from_secs(5)));
//! // dropped: "postfix stop", then every process it started is killed by PID
//! ```
//!
//! ## DESCRIPTION
//! An [`Instance`] is a configuration and queue directory under the system
//! temporary directory, with `daemon_directory` and `command_directory`
//! pointing at the binaries of this build, logging to a file through
//! postlogd, and listening only on 127.0.0.1. It is started the way a user
//! starts one (`postfix -c DIR start`). When it is dropped it is stopped,
//! any process still running in it (found through `/proc` by its
//! `MAIL_CONFIG` or its working directory, and killed by PID) is killed,
//! and the directory is removed.
//!
//! Run as root, the instance uses `mail_owner = postfix` as a real
//! installation does; run by another user it is an unprivileged instance.
//! [`Instance::as_user`] runs it as another user from root.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A master.cf with only the logging service: enough to run master.
pub const MINIMAL_MASTER_CF: &str =
    "postlog   unix-dgram n  -       n       -       1       postlogd\n";

/// The directory with the binaries of this build (target/debug).
pub fn bin_dir() -> PathBuf {
    if let Ok(d) = std::env::var("MTA_BIN_DIR") {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe().expect("invariant: test binary has a path");
    let mut dir = exe
        .parent()
        .expect("invariant: exe has a parent")
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// The repository's top directory.
pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("invariant: repo exists")
}

/// A free TCP port on 127.0.0.1 (free when asked; tests bind it soon after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// What a command printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Panics unless the command exited 0.
    #[track_caller]
    pub fn success(self) -> Run {
        assert_eq!(
            self.code, 0,
            "command failed: stdout={:?} stderr={:?}",
            self.stdout, self.stderr
        );
        self
    }
}

pub struct Builder {
    name: String,
    master_cf: String,
    main_cf_extra: String,
    user: Option<String>,
    installed: bool,
}

impl Builder {
    pub fn master_cf(mut self, text: &str) -> Builder {
        self.master_cf = text.to_string();
        self
    }

    /// Lines appended to the generated main.cf.
    pub fn main_cf(mut self, text: &str) -> Builder {
        self.main_cf_extra.push_str(text);
        self
    }

    /// Installs the binaries with scripts/install into the instance (as a
    /// package would: commands, daemons, set-gid postdrop and postqueue)
    /// and runs them from there.
    pub fn installed(mut self) -> Builder {
        self.installed = true;
        self
    }

    /// Runs the instance as `user` (root only): an unprivileged instance
    /// owned by that user.
    pub fn as_user(mut self, user: &str) -> Builder {
        self.user = Some(user.to_string());
        self
    }

    pub fn build(self) -> Instance {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let root = std::env::temp_dir().join(format!(
            "mta-test-{}-{}-{}",
            self.name,
            std::process::id(),
            n
        ));
        let _ = std::fs::remove_dir_all(&root);
        let etc = root.join("etc");
        std::fs::create_dir_all(&etc).expect("create instance dir");
        std::fs::create_dir_all(root.join("log")).expect("create log dir");
        let built = bin_dir();
        let (bin, cmd) = if self.installed {
            let inst = root.join("inst");
            let out = std::process::Command::new(repo_dir().join("scripts/install"))
                .arg("--root")
                .arg(&inst)
                .arg("--from")
                .arg(&built)
                .output()
                .expect("run scripts/install");
            assert!(
                out.status.success(),
                "scripts/install failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            (inst.join("usr/libexec/postfix"), inst.join("usr/sbin"))
        } else {
            (built.clone(), built)
        };
        let port = free_port();
        let mut main = format!(
            "compatibility_level = 3.7\n\
             queue_directory = {root}/spool\n\
             data_directory = {root}/data\n\
             daemon_directory = {bin}\n\
             command_directory = {cmd}\n\
             maillog_file = {root}/log/maillog\n\
             maillog_file_prefixes = {root}/log\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             myhostname = test.example\n\
             mydestination = localhost\n\
             alias_maps =\n\
             alias_database =\n",
            root = root.display(),
            bin = bin.display(),
            cmd = cmd.display(),
        );
        if let Some(user) = &self.user {
            let id = nix::unistd::User::from_name(user)
                .ok()
                .flatten()
                .expect("test user exists");
            main.push_str(&format!("mail_owner = {user}\n"));
            let group = nix::unistd::Group::from_gid(id.gid)
                .ok()
                .flatten()
                .map(|g| g.name)
                .unwrap_or_default();
            main.push_str(&format!("setgid_group = {group}\n"));
        }
        main.push_str(&self.main_cf_extra);
        let master = self.master_cf.replace("$PORT", &port.to_string());
        std::fs::write(etc.join("main.cf"), main).expect("write main.cf");
        std::fs::write(etc.join("master.cf"), master).expect("write master.cf");
        if let Some(user) = &self.user {
            let id = nix::unistd::User::from_name(user)
                .ok()
                .flatten()
                .expect("test user exists");
            for p in [&root, &root.join("log")] {
                nix::unistd::chown(p, Some(id.uid), Some(id.gid)).expect("chown instance dir");
            }
        }
        Instance {
            root,
            etc,
            bin,
            cmd,
            port,
            user: self.user,
            stopped: false,
        }
    }
}

/// A private instance.
pub struct Instance {
    pub root: PathBuf,
    pub etc: PathBuf,
    /// daemon_directory.
    pub bin: PathBuf,
    /// command_directory.
    pub cmd: PathBuf,
    /// The port `$PORT` in master.cf was replaced with.
    pub port: u16,
    user: Option<String>,
    stopped: bool,
}

impl Instance {
    pub fn builder(name: &str) -> Builder {
        Builder {
            name: name.to_string(),
            master_cf: MINIMAL_MASTER_CF.to_string(),
            main_cf_extra: String::new(),
            user: None,
            installed: false,
        }
    }

    pub fn spool(&self) -> PathBuf {
        self.root.join("spool")
    }

    pub fn log_path(&self) -> PathBuf {
        self.root.join("log/maillog")
    }

    /// A command of this build, with `MAIL_CONFIG` set, run as the
    /// instance's user.
    pub fn command(&self, program: &str) -> Command {
        let mut c = match &self.user {
            Some(u) => {
                let mut c = Command::new("setpriv");
                let id = nix::unistd::User::from_name(u)
                    .ok()
                    .flatten()
                    .expect("test user exists");
                c.args([
                    format!("--reuid={}", id.uid),
                    format!("--regid={}", id.gid),
                    "--clear-groups".to_string(),
                    "--".to_string(),
                ]);
                c.arg(self.program(program));
                c
            }
            None => Command::new(self.program(program)),
        };
        c.env("MAIL_CONFIG", &self.etc);
        c.current_dir(&self.root);
        c
    }

    /// Where `program` is: commands in command_directory, the rest
    /// (master, daemons) in daemon_directory.
    pub fn program(&self, program: &str) -> PathBuf {
        let c = self.cmd.join(program);
        if c.exists() {
            c
        } else {
            self.bin.join(program)
        }
    }

    /// Runs a command of this build to completion.
    pub fn run(&self, program: &str, args: &[&str]) -> Run {
        Run::from(
            self.command(program)
                .args(args)
                .output()
                .expect("run command"),
        )
    }

    /// `postfix -c ETC args...`.
    pub fn postfix(&self, args: &[&str]) -> Run {
        let etc = self.etc.display().to_string();
        let mut all = vec!["-c", etc.as_str()];
        all.extend_from_slice(args);
        self.run("postfix", &all)
    }

    pub fn start(&self) {
        self.postfix(&["start"]).success();
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Waits until the log contains `text`.
    pub fn wait_log(&self, text: &str, timeout: Duration) -> bool {
        wait_for(timeout, || self.log().contains(text))
    }

    /// Waits until the log contains `text` at least `n` times.
    pub fn wait_log_count(&self, text: &str, n: usize, timeout: Duration) -> bool {
        wait_for(timeout, || self.log().matches(text).count() >= n)
    }

    pub fn write_main_cf(&self, text: &str) {
        std::fs::write(self.etc.join("main.cf"), text).expect("write main.cf");
    }

    pub fn main_cf(&self) -> String {
        std::fs::read_to_string(self.etc.join("main.cf")).expect("read main.cf")
    }

    pub fn write_master_cf(&self, text: &str) {
        std::fs::write(
            self.etc.join("master.cf"),
            text.replace("$PORT", &self.port.to_string()),
        )
        .expect("write master.cf");
    }

    pub fn master_cf(&self) -> String {
        std::fs::read_to_string(self.etc.join("master.cf")).expect("read master.cf")
    }

    /// The running master's process ID, from the lock file.
    pub fn master_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.spool().join("pid/master.pid")).ok()?;
        let pid: i32 = text.trim().parse().ok()?;
        alive(pid).then_some(pid)
    }

    /// Every process that belongs to this instance: found by its
    /// MAIL_CONFIG or by a working directory inside the instance.
    pub fn processes(&self) -> Vec<Proc> {
        let mut out = Vec::new();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return out;
        };
        let etc = format!("MAIL_CONFIG={}", self.etc.display());
        for e in dir.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if pid == std::process::id() as i32 {
                continue;
            }
            let base = e.path();
            let env = std::fs::read(base.join("environ")).unwrap_or_default();
            let mine_env = env.split(|&b| b == 0).any(|v| v == etc.as_bytes());
            let cwd = std::fs::read_link(base.join("cwd")).unwrap_or_default();
            let root_link = std::fs::read_link(base.join("root")).unwrap_or_default();
            let mine_cwd = cwd.starts_with(&self.root) || (root_link.starts_with(&self.root));
            if (mine_env || mine_cwd)
                && let Some(p) = Proc::read(pid)
            {
                out.push(p);
            }
        }
        out
    }

    /// Stops the instance, if it runs, and waits until no process of it is
    /// left; kills stragglers by PID.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if self.master_pid().is_some() {
            let _ = self.postfix(&["stop"]);
        }
        if !wait_for(Duration::from_secs(10), || self.processes().is_empty()) {
            for p in self.processes() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p.pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.stop();
        if std::env::var_os("MTA_TEST_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// What /proc says about a process.
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    pub uid: u32,
    pub cmdline: Vec<String>,
    pub root: PathBuf,
}

impl Proc {
    pub fn read(pid: i32) -> Option<Proc> {
        let base = PathBuf::from(format!("/proc/{pid}"));
        let status = std::fs::read_to_string(base.join("status")).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
        };
        if field("State:").as_deref() == Some("Z") {
            return None;
        }
        let cmdline = std::fs::read(base.join("cmdline")).ok()?;
        Some(Proc {
            pid,
            ppid: field("PPid:")?.parse().ok()?,
            uid: field("Uid:")?.parse().ok()?,
            cmdline: cmdline
                .split(|&b| b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect(),
            root: std::fs::read_link(base.join("root")).unwrap_or_default(),
        })
    }

    /// The program name (argv[0] without a directory).
    pub fn program(&self) -> String {
        self.cmdline
            .first()
            .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
            .unwrap_or_default()
    }
}

/// Whether a process exists (and is not a zombie).
pub fn alive(pid: i32) -> bool {
    Proc::read(pid).is_some()
}

/// Polls `f` until it holds or `timeout` passes.
pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}
