//! # NAME
//! reuse — connection caching through scache(8) (smtp_reuse.c)
//!
//! ## SYNOPSIS
//! ```ignore
//! if let Some(s) = agent.cache.find_dest(&dest_label) { ... }
//! agent.cache.save(&dest_label, session, &settings);
//! ```
//!
//! ## DESCRIPTION
//! After a delivery the client may keep the connection open for the
//! next delivery to the same destination: when the queue manager says
//! that more mail waits for it (`smtp_connection_cache_on_demand`), or
//! when the destination is listed in `smtp_connection_cache_destinations`.
//! The connection goes to scache(8) with the facts of the session (name,
//! address, ESMTP features, how often it was used and since when) and
//! comes back to whichever smtp process delivers there next, within
//! `smtp_connection_cache_time_limit`. A connection is not reused more
//! than `smtp_connection_reuse_count_limit` times (0: no limit) nor
//! after `smtp_connection_reuse_time_limit`.
//!
//! Labels: a destination is the transport and next hop, plus the
//! sender when SASL credentials depend on it; an endpoint is the
//! transport, address and port, plus the HELO name and SASL user, so
//! that a session is never reused under another identity. Only
//! plaintext connections are cached: a TLS session cannot be handed to
//! another process (Postfix needs tlsproxy(8) for that).
//!
//! ## SEE ALSO
//! CONNECTION_CACHE_README, scache(8), [`ipc::scache`]

use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use daemon::warn;
use proto::client::Features;

use crate::session::{Session, Stream, now_secs};
use crate::settings::Settings;

/// The scache(8) client of one process.
pub struct Cache {
    queue_dir: PathBuf,
    service: String,
    timeout: Duration,
    client: Option<ipc::scache::Client>,
    /// Do not try again in this request after a failure.
    broken: bool,
}

fn flag(f: bool) -> char {
    if f { '1' } else { '0' }
}

/// The facts of a session that travel with its descriptor.
pub fn encode_props(s: &Session) -> Vec<u8> {
    let f = &s.features;
    let text = format!(
        "host={}\naddr={}\nport={}\nesmtp={}\nauth_done={}\nuses={}\nborn={}\n\
         pipelining={}\nsize={}\n8bitmime={}\nsmtputf8={}\ndsn={}\nchunking={}\n\
         starttls={}\nenhanced={}\nauth={}\nunix={}\n",
        s.host,
        s.addr,
        s.port.map(|p| p.to_string()).unwrap_or_default(),
        flag(s.esmtp),
        flag(s.authenticated),
        s.uses,
        s.born,
        flag(f.pipelining),
        f.size.map(|n| n.to_string()).unwrap_or_default(),
        flag(f.eightbitmime),
        flag(f.smtputf8),
        flag(f.dsn),
        flag(f.chunking),
        flag(f.starttls),
        flag(f.enhancedstatuscodes),
        f.auth.join(" "),
        flag(s.port.is_none()),
    );
    text.into_bytes()
}

/// A session from a descriptor and its facts; `None` for anything
/// that does not decode.
pub fn decode_props(props: &[u8], fd: std::os::fd::OwnedFd) -> Option<Session> {
    let text = std::str::from_utf8(props).ok()?;
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
    };
    let on = |k: &str| get(k) == Some("1");
    let port = match get("port")? {
        "" => None,
        p => Some(p.parse().ok()?),
    };
    let stream = if on("unix") {
        Stream::Unix(UnixStream::from(fd))
    } else {
        Stream::Tcp(TcpStream::from(fd))
    };
    let mut s = Session::new(stream, get("host")?, get("addr")?, port);
    s.esmtp = on("esmtp");
    s.authenticated = on("auth_done");
    s.uses = get("uses")?.parse().ok()?;
    s.born = get("born")?.parse().ok()?;
    s.reused = true;
    s.features = Features {
        pipelining: on("pipelining"),
        size: match get("size")? {
            "" => None,
            n => Some(n.parse().ok()?),
        },
        eightbitmime: on("8bitmime"),
        smtputf8: on("smtputf8"),
        dsn: on("dsn"),
        chunking: on("chunking"),
        starttls: on("starttls"),
        enhancedstatuscodes: on("enhanced"),
        auth: get("auth")?
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(String::from)
            .collect(),
        xforward: Vec::new(),
    };
    Some(s)
}

/// Whether a session may be used (again) under the reuse limits.
pub fn within_limits(s: &Session, settings: &Settings) -> bool {
    let count_ok =
        settings.reuse_count_limit == 0 || u64::from(s.uses) < settings.reuse_count_limit;
    let age = now_secs().saturating_sub(s.born);
    count_ok && Duration::from_secs(age) < settings.reuse_time_limit
}

impl Cache {
    pub fn new(queue_dir: PathBuf, service: &str, timeout: Duration) -> Cache {
        Cache {
            queue_dir,
            service: service.to_string(),
            timeout,
            client: None,
            broken: false,
        }
    }

    /// A new request: a failure of the last one may have passed.
    pub fn reset(&mut self) {
        self.broken = false;
    }

    fn client(&mut self) -> Option<&mut ipc::scache::Client> {
        if self.broken {
            return None;
        }
        if self.client.is_none() {
            match ipc::scache::Client::connect(&self.queue_dir, &self.service, self.timeout) {
                Ok(c) => self.client = Some(c),
                Err(e) => {
                    warn!("connect to {} service: {}", self.service, e);
                    self.broken = true;
                    return None;
                }
            }
        }
        self.client.as_mut()
    }

    fn failed(&mut self, what: &str, e: ipc::IpcError) {
        warn!("{} service: {}: {}", self.service, what, e);
        self.client = None;
        self.broken = true;
    }

    /// A cached session for a destination.
    pub fn find_dest(&mut self, label: &str) -> Option<Session> {
        let c = self.client()?;
        match c.find_dest(label) {
            Ok(Some(hit)) => decode_props(&hit.props, hit.fd),
            Ok(None) => None,
            Err(e) => {
                self.failed("find destination", e);
                None
            }
        }
    }

    /// A cached session for an endpoint.
    pub fn find_endpoint(&mut self, label: &str) -> Option<Session> {
        let c = self.client()?;
        match c.find_endpoint(label) {
            Ok(Some(hit)) => decode_props(&hit.props, hit.fd),
            Ok(None) => None,
            Err(e) => {
                self.failed("find endpoint", e);
                None
            }
        }
    }

    /// Hands a session to the cache; gives it back when it was not
    /// taken (the caller then ends it).
    #[allow(clippy::result_large_err)]
    pub fn save(
        &mut self,
        dest: &str,
        endpoint: &str,
        s: Session,
        ttl: Duration,
    ) -> Result<(), Session> {
        if !s.passable() {
            return Err(s);
        }
        let props = encode_props(&s);
        let Some(c) = self.client() else {
            return Err(s);
        };
        let fd = match s.fd() {
            Some(fd) => fd.try_clone_to_owned(),
            None => return Err(s),
        };
        let Ok(fd) = fd else { return Err(s) };
        match c.save(dest, endpoint, &props, ttl, &fd) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.failed("save connection", e);
                Err(s)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn props_round_trip() {
        let (a, _b) = UnixStream::pair().unwrap();
        let tcp_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp = TcpStream::connect(tcp_l.local_addr().unwrap()).unwrap();
        let mut s = Session::new(Stream::Tcp(tcp), "mx.example", "192.0.2.1", Some(25));
        s.esmtp = true;
        s.uses = 3;
        s.features.pipelining = true;
        s.features.size = Some(1000);
        s.features.auth = vec!["PLAIN".into(), "LOGIN".into()];
        let props = encode_props(&s);
        let fd = s.into_fd().unwrap();
        let back = decode_props(&props, fd).unwrap();
        assert_eq!(back.relay(), "mx.example[192.0.2.1]:25");
        assert!(back.esmtp && back.reused && back.features.pipelining);
        assert_eq!(back.uses, 3);
        assert_eq!(back.features.size, Some(1000));
        assert_eq!(back.features.auth, vec!["PLAIN", "LOGIN"]);
        let u = Session::new(Stream::Unix(a), "me", "private/lmtp", None);
        let props = encode_props(&u);
        let back = decode_props(&props, u.into_fd().unwrap()).unwrap();
        assert_eq!(back.relay(), "me[private/lmtp]");
        let (c, _d) = UnixStream::pair().unwrap();
        assert!(decode_props(b"garbage", OwnedFdExt::own(c)).is_none());
    }

    trait OwnedFdExt {
        fn own(self) -> std::os::fd::OwnedFd;
    }
    impl OwnedFdExt for UnixStream {
        fn own(self) -> std::os::fd::OwnedFd {
            std::os::fd::OwnedFd::from(self)
        }
    }
}
