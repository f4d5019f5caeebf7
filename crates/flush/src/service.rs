//! # NAME
//! service — the flush(8) server's side
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut s = Service::new(&ctx.cfg, Path::new("."))?;
//! let status = s.handle(&request);
//! ```
//!
//! ## DESCRIPTION
//! The per-destination logs live in `flush/`, one file per destination,
//! named after it (lower case; bytes other than letters, digits, `.`, `-`
//! and `_` written as `%XX`), holding one queue ID per line. Adding takes
//! an exclusive lock and appends. Sending takes the lock, reads the IDs,
//! empties the file and records the time it was read (its access time);
//! then each message still in `deferred` gets its time reset and moves to
//! `incoming`, and qmgr(8) is woken with `I` once. Refreshing flushes
//! every non-empty log not read for `fast_flush_refresh_time` and removes
//! empty logs not changed for `fast_flush_purge_time`.
//!
//! ## SEE ALSO
//! flush(8), [`crate::domains`]

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use config::params;
use daemon::{info, warn};
use ipc::flush::{FlushRequest, FlushStatus};
use queue::{Layout, QueueId};

use maps::matchlist::DomainList;

/// The flush service's state.
pub struct Service {
    layout: Layout,
    domains: DomainList,
    refresh_time: Duration,
    purge_time: Duration,
    qmgr_service: String,
}

/// The log file name of a destination.
pub fn log_name(site: &str) -> String {
    let mut out = String::with_capacity(site.len());
    for b in site.to_ascii_lowercase().bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.starts_with('.') {
        out.replace_range(0..1, "%2E");
    }
    out
}

impl Service {
    pub fn new(cfg: &config::Config, queue_dir: &Path) -> Result<Service, String> {
        let layout = Layout::from_config(cfg).map_err(|e| e.to_string())?;
        let value = cfg
            .str(&params::FAST_FLUSH_DOMAINS)
            .map_err(|e| e.to_string())?;
        Ok(Service {
            layout: Layout {
                queue_dir: queue_dir.to_path_buf(),
                ..layout
            },
            domains: DomainList::open(&value, cfg, params::FAST_FLUSH_DOMAINS.name())
                .map_err(|e| e.to_string())?,
            refresh_time: cfg
                .time(&params::FAST_FLUSH_REFRESH_TIME)
                .map_err(|e| e.to_string())?,
            purge_time: cfg
                .time(&params::FAST_FLUSH_PURGE_TIME)
                .map_err(|e| e.to_string())?,
            qmgr_service: cfg
                .str(&params::QUEUE_SERVICE_NAME)
                .map_err(|e| e.to_string())?,
        })
    }

    fn dir(&self) -> PathBuf {
        self.layout.queue_dir.join("flush")
    }

    /// Whether `site` may have a log; `Err` when a table failed.
    fn eligible(&mut self, site: &str) -> Result<bool, String> {
        if self.domains.is_empty() {
            return Ok(false);
        }
        self.domains.matches(site).map_err(|e| e.to_string())
    }

    pub fn handle(&mut self, req: &FlushRequest) -> FlushStatus {
        match req {
            FlushRequest::Add { site, queue_id } => self.add(site, queue_id),
            FlushRequest::SendSite { site } => self.send_site(site),
            FlushRequest::SendFile { queue_id } => self.send_file(queue_id),
            FlushRequest::Refresh => self.refresh(false),
            FlushRequest::Purge => self.refresh(true),
        }
    }

    fn add(&mut self, site: &str, queue_id: &str) -> FlushStatus {
        let site = site.to_ascii_lowercase();
        if !mail::host::valid_site(&site) || QueueId::parse(queue_id).is_none() {
            return FlushStatus::Bad;
        }
        match self.eligible(&site) {
            Ok(true) => {}
            Ok(false) => return FlushStatus::Deny,
            Err(e) => {
                warn!("fast_flush_domains: {e}");
                return FlushStatus::Fail;
            }
        }
        let path = self.dir().join(log_name(&site));
        let r = open_locked(&path, true).and_then(|(mut f, _lock)| {
            f.seek(io::SeekFrom::End(0))?;
            f.write_all(format!("{queue_id}\n").as_bytes())
        });
        match r {
            Ok(()) => FlushStatus::Ok,
            Err(e) => {
                warn!("update {}: {}", path.display(), e);
                FlushStatus::Fail
            }
        }
    }

    fn send_site(&mut self, site: &str) -> FlushStatus {
        let site = site.to_ascii_lowercase();
        if !mail::host::valid_site(&site) {
            return FlushStatus::Bad;
        }
        match self.eligible(&site) {
            Ok(true) => {}
            Ok(false) => return FlushStatus::Deny,
            Err(e) => {
                warn!("fast_flush_domains: {e}");
                return FlushStatus::Fail;
            }
        }
        let path = self.dir().join(log_name(&site));
        match self.flush_log(&path) {
            Ok(n) => {
                info!(
                    "flush {}: {} message{}",
                    site,
                    n,
                    if n == 1 { "" } else { "s" }
                );
                FlushStatus::Ok
            }
            Err(e) => {
                warn!("flush {}: {}", path.display(), e);
                FlushStatus::Fail
            }
        }
    }

    /// Empties one log and schedules its messages; returns how many.
    fn flush_log(&self, path: &Path) -> io::Result<usize> {
        let ids = {
            let (mut f, _lock) = match open_locked(path, false) {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(e),
            };
            let mut text = String::new();
            (&f).take(16 * 1024 * 1024).read_to_string(&mut text)?;
            f.set_len(0)?;
            f.rewind()?;
            // The time it was read, for refresh.
            let now = SystemTime::now();
            let mtime = f.metadata()?.modified().unwrap_or(now);
            f.set_times(
                std::fs::FileTimes::new()
                    .set_accessed(now)
                    .set_modified(mtime),
            )?;
            let mut seen = HashSet::new();
            text.lines()
                .filter_map(QueueId::parse)
                .filter(|id| seen.insert(id.clone()))
                .collect::<Vec<_>>()
        };
        let n = ids.iter().filter(|id| self.schedule(id)).count();
        if n > 0 {
            self.wake_qmgr();
        }
        Ok(n)
    }

    /// Moves a deferred message to incoming with a fresh time stamp.
    fn schedule(&self, id: &QueueId) -> bool {
        let path = self.layout.path_of("deferred", id);
        let now = SystemTime::now();
        let touched = OpenOptions::new()
            .write(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&path)
            .and_then(|f| {
                f.set_times(
                    std::fs::FileTimes::new()
                        .set_accessed(now)
                        .set_modified(now),
                )
            });
        match touched {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return false,
            Err(e) => {
                warn!("{}: reset time stamp: {}", id, e);
                return false;
            }
        }
        match self.layout.move_file(id, "deferred", "incoming") {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => {
                warn!("{}: move to incoming: {}", id, e);
                false
            }
        }
    }

    fn wake_qmgr(&self) {
        if let Err(e) = ipc::trigger(
            &self.layout.queue_dir,
            ipc::Class::Public,
            &self.qmgr_service,
            b"I",
        ) {
            warn!("trigger {} service: {}", self.qmgr_service, e);
        }
    }

    fn send_file(&mut self, queue_id: &str) -> FlushStatus {
        let Some(id) = QueueId::parse(queue_id) else {
            return if QueueId::name_ok(queue_id) {
                FlushStatus::Ok
            } else {
                FlushStatus::Bad
            };
        };
        if self.schedule(&id) {
            self.wake_qmgr();
        }
        FlushStatus::Ok
    }

    fn refresh(&mut self, all: bool) -> FlushStatus {
        let rd = match std::fs::read_dir(self.dir()) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return FlushStatus::Ok,
            Err(e) => {
                warn!("open {}: {}", self.dir().display(), e);
                return FlushStatus::Fail;
            }
        };
        let now = SystemTime::now();
        let age = |t: std::io::Result<SystemTime>| {
            t.ok()
                .and_then(|t| now.duration_since(t).ok())
                .unwrap_or_default()
        };
        for e in rd.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let path = e.path();
            if meta.size() == 0 {
                if age(meta.modified()) >= self.purge_time {
                    let _ = std::fs::remove_file(&path);
                }
            } else if (all || age(meta.accessed()) >= self.refresh_time)
                && let Err(err) = self.flush_log(&path)
            {
                warn!("flush {}: {}", path.display(), err);
            }
        }
        FlushStatus::Ok
    }
}

/// Opens a log with an exclusive lock (held by the returned guard).
fn open_locked(path: &Path, create: bool) -> io::Result<(File, nix::fcntl::Flock<File>)> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)?;
    let lock = nix::fcntl::Flock::lock(f.try_clone()?, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| io::Error::from(e))?;
    Ok((f, lock))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_names_are_safe() {
        assert_eq!(log_name("Example.COM"), "example.com");
        assert_eq!(log_name("[192.0.2.1]"), "%5B192.0.2.1%5D");
        assert_eq!(log_name("../x"), "%2E./x".replace('/', "%2F"));
    }

    #[test]
    fn add_send_and_refresh() {
        let d = std::env::temp_dir().join(format!("flush-svc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for q in ["flush", "deferred", "incoming", "public", "etc"] {
            std::fs::create_dir_all(d.join(q)).unwrap();
        }
        std::fs::write(
            d.join("etc/main.cf"),
            format!(
                "queue_directory = {}\nfast_flush_domains = example.com\n",
                d.display()
            ),
        )
        .unwrap();
        let cfg = config::Config::load(&d.join("etc")).unwrap();
        let mut s = Service::new(&cfg, &d).unwrap();
        let l = s.layout.clone();
        let id = QueueId::parse("3F2A11B9C4").unwrap();
        let p = l.path_of("deferred", &id);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, b"x").unwrap();
        let old = SystemTime::now() + Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let add = |s: &mut Service, site: &str| {
            s.handle(&FlushRequest::Add {
                site: site.into(),
                queue_id: id.to_string(),
            })
        };
        assert_eq!(add(&mut s, "other.example"), FlushStatus::Deny);
        assert_eq!(add(&mut s, "bad site"), FlushStatus::Bad);
        assert_eq!(add(&mut s, "mx.Example.com"), FlushStatus::Ok);
        assert_eq!(add(&mut s, "mx.example.com"), FlushStatus::Ok);
        let log = d.join("flush/mx.example.com");
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            format!("{id}\n{id}\n")
        );
        assert_eq!(
            s.handle(&FlushRequest::SendSite {
                site: "other.example".into()
            }),
            FlushStatus::Deny
        );
        // No qmgr socket: the wakeup fails with a warning, the move is done.
        assert_eq!(
            s.handle(&FlushRequest::SendSite {
                site: "mx.example.com".into()
            }),
            FlushStatus::Ok
        );
        assert!(l.path_of("incoming", &id).exists());
        assert!(!p.exists());
        assert_eq!(std::fs::metadata(&log).unwrap().len(), 0);
        // An unknown or moved message is fine; a bad name is not.
        assert_eq!(
            s.handle(&FlushRequest::SendFile {
                queue_id: id.to_string()
            }),
            FlushStatus::Ok
        );
        assert_eq!(
            s.handle(&FlushRequest::SendFile {
                queue_id: "bad/x".into()
            }),
            FlushStatus::Bad
        );
        // Purge removes empty logs once they are old enough.
        s.purge_time = Duration::ZERO;
        assert_eq!(s.handle(&FlushRequest::Purge), FlushStatus::Ok);
        assert!(!log.exists());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
