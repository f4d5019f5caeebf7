//! A scriptable SMTP/LMTP server for the smtp(8) tests: it records every
//! connection and transaction, and answers as its [`Behavior`] says
//! (per-recipient replies, a dropped connection after the data, a slow
//! reply, STARTTLS with the test certificate). The behavior can be
//! changed while it runs.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the server answers.
#[derive(Clone)]
pub struct Behavior {
    pub lmtp: bool,
    pub greeting: String,
    /// EHLO keywords after the name line.
    pub features: Vec<String>,
    /// The reply to RCPT for an address (without CR LF).
    pub rcpt: Arc<dyn Fn(&str) -> String + Send + Sync>,
    /// The reply to the end of data (per recipient for LMTP).
    pub data: Arc<dyn Fn(&str) -> String + Send + Sync>,
    /// Close the connection after the end of data, without a reply.
    pub drop_after_data: bool,
    /// Wait this long before the reply to the end of data.
    pub data_delay: Duration,
    /// Wait this long before each reply to RCPT.
    pub rcpt_delay: Duration,
    /// Offer STARTTLS with this certificate and key.
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// TLS from the start (wrapper mode, port 465), with `tls`.
    pub implicit_tls: bool,
    /// Refuse EHLO (an old server: the client must fall back to HELO).
    pub no_ehlo: bool,
}

impl Default for Behavior {
    fn default() -> Behavior {
        Behavior {
            lmtp: false,
            greeting: "220 peer.test ESMTP".into(),
            features: vec![
                "PIPELINING".into(),
                "8BITMIME".into(),
                "SIZE 10240000".into(),
            ],
            rcpt: Arc::new(|_| "250 2.1.5 Ok".into()),
            data: Arc::new(|_| "250 2.0.0 Ok: queued as PEER1".into()),
            drop_after_data: false,
            data_delay: Duration::ZERO,
            rcpt_delay: Duration::ZERO,
            tls: None,
            implicit_tls: false,
            no_ehlo: false,
        }
    }
}

/// One transaction the server saw.
#[derive(Debug, Clone, Default)]
pub struct Transaction {
    pub mail: String,
    pub rcpts: Vec<String>,
    pub data: Vec<u8>,
    /// The data was received whole.
    pub complete: bool,
    /// A 2xx reply to the end of data was sent (for each recipient).
    pub acked: Vec<String>,
    pub tls: bool,
    pub auth: bool,
}

#[derive(Default)]
pub struct Seen {
    pub connections: usize,
    pub transactions: Vec<Transaction>,
    pub commands: Vec<String>,
}

pub struct Peer {
    pub port: u16,
    pub behavior: Arc<Mutex<Behavior>>,
    pub seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
}

impl Peer {
    pub fn start(b: Behavior) -> Peer {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind peer");
        Self::start_on(l, b)
    }

    pub fn start_on(l: TcpListener, b: Behavior) -> Peer {
        let port = l.local_addr().unwrap().port();
        let behavior = Arc::new(Mutex::new(b));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (b2, s2, st2) = (behavior.clone(), seen.clone(), stop.clone());
        l.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            while !st2.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((c, _)) => {
                        c.set_nonblocking(false).unwrap();
                        s2.lock().unwrap().connections += 1;
                        let (b3, s3) = (b2.clone(), s2.clone());
                        std::thread::spawn(move || {
                            let _ = serve(c, b3, s3);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Peer {
            port,
            behavior,
            seen,
            stop,
        }
    }

    pub fn set(&self, f: impl FnOnce(&mut Behavior)) {
        f(&mut self.behavior.lock().unwrap());
    }

    pub fn transactions(&self) -> Vec<Transaction> {
        self.seen.lock().unwrap().transactions.clone()
    }

    pub fn connections(&self) -> usize {
        self.seen.lock().unwrap().connections
    }

    /// How many times the data for `rcpt` was acknowledged.
    pub fn acked(&self, rcpt: &str) -> usize {
        self.transactions()
            .iter()
            .map(|t| t.acked.iter().filter(|a| a.as_str() == rcpt).count())
            .sum()
    }

    /// How many times the whole data for `rcpt` arrived (acknowledged
    /// or not).
    pub fn received(&self, rcpt: &str) -> usize {
        self.transactions()
            .iter()
            .filter(|t| t.complete && t.rcpts.iter().any(|r| r == rcpt))
            .count()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

trait Io: Read + Write {}
impl<T: Read + Write> Io for T {}

fn serve(c: TcpStream, b: Arc<Mutex<Behavior>>, seen: Arc<Mutex<Seen>>) -> std::io::Result<()> {
    c.set_read_timeout(Some(Duration::from_secs(30)))?;
    let beh = b.lock().unwrap().clone();
    let mut tls = false;
    let (mut io, mut r): (Box<dyn Io>, BufReader<Box<dyn Io>>) = if beh.implicit_tls {
        // Wrapper mode (port 465): TLS before the greeting.
        let (cert, key) = beh.tls.clone().expect("implicit TLS needs a certificate");
        let shared = Arc::new(Mutex::new(rustls::StreamOwned::new(
            rustls::ServerConnection::new(server_config(&cert, &key)).unwrap(),
            Box::new(c) as Box<dyn Io>,
        )));
        tls = true;
        (
            Box::new(SharedIo(shared.clone())),
            BufReader::new(Box::new(SharedIo(shared))),
        )
    } else {
        (Box::new(c.try_clone()?), BufReader::new(Box::new(c)))
    };
    writeln!(io, "{}\r", beh.greeting)?;
    io.flush()?;
    let mut txn: Option<Transaction> = None;
    let mut auth = false;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end().to_string();
        seen.lock().unwrap().commands.push(line.clone());
        let upper = line.to_ascii_uppercase();
        let beh = b.lock().unwrap().clone();
        let mut out = String::new();
        if upper.starts_with("EHLO") || upper.starts_with("LHLO") {
            if beh.no_ehlo || upper.starts_with("EHLO") == beh.lmtp {
                out.push_str("500 5.5.1 wrong greeting verb\r\n");
            } else {
                let mut f = beh.features.clone();
                if beh.tls.is_some() && !tls {
                    f.push("STARTTLS".into());
                }
                out.push_str("250-peer.test\r\n");
                for (i, k) in f.iter().enumerate() {
                    let sep = if i + 1 == f.len() { ' ' } else { '-' };
                    out.push_str(&format!("250{sep}{k}\r\n"));
                }
                if f.is_empty() {
                    out = "250 peer.test\r\n".into();
                }
            }
        } else if upper.starts_with("HELO") {
            out.push_str("250 peer.test\r\n");
        } else if upper == "STARTTLS" && beh.tls.is_some() && !tls {
            io.write_all(b"220 2.0.0 Ready to start TLS\r\n")?;
            let (cert, key) = beh.tls.clone().unwrap();
            let conn = rustls::ServerConnection::new(server_config(&cert, &key)).unwrap();
            // Take the socket back from the reader (nothing is buffered
            // after STARTTLS from a well-behaved client).
            let sock = r.into_inner();
            let s = rustls::StreamOwned::new(conn, sock);
            let shared = Arc::new(Mutex::new(s));
            io = Box::new(SharedIo(shared.clone()));
            r = BufReader::new(Box::new(SharedIo(shared)));
            tls = true;
            continue;
        } else if upper.starts_with("AUTH") {
            auth = true;
            out.push_str("235 2.7.0 Authentication successful\r\n");
        } else if upper.starts_with("MAIL FROM:") {
            txn = Some(Transaction {
                mail: line[10..].to_string(),
                tls,
                auth,
                ..Default::default()
            });
            out.push_str("250 2.1.0 Ok\r\n");
        } else if upper.starts_with("RCPT TO:") {
            let addr = line[8..]
                .split('>')
                .next()
                .unwrap_or("")
                .trim_start_matches('<')
                .to_string();
            std::thread::sleep(beh.rcpt_delay);
            let rep = (beh.rcpt)(&addr);
            if rep.starts_with('2')
                && let Some(t) = txn.as_mut()
            {
                t.rcpts.push(addr);
            }
            out.push_str(&rep);
            out.push_str("\r\n");
        } else if upper == "DATA" {
            let Some(mut t) = txn.take() else {
                io.write_all(b"503 5.5.1 Error: need MAIL command\r\n")?;
                continue;
            };
            if t.rcpts.is_empty() {
                io.write_all(b"554 5.5.1 Error: no valid recipients\r\n")?;
                continue;
            }
            io.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
            loop {
                let mut l = Vec::new();
                if r.read_until(b'\n', &mut l)? == 0 {
                    seen.lock().unwrap().transactions.push(t);
                    return Ok(());
                }
                if l == b".\r\n" {
                    break;
                }
                let body = if l.starts_with(b"..") {
                    &l[1..]
                } else {
                    &l[..]
                };
                t.data.extend_from_slice(body);
            }
            t.complete = true;
            let idx = {
                let mut s = seen.lock().unwrap();
                s.transactions.push(t.clone());
                s.transactions.len() - 1
            };
            if beh.drop_after_data {
                return Ok(());
            }
            std::thread::sleep(beh.data_delay);
            let mut reply = String::new();
            let mut acked = Vec::new();
            let targets: Vec<String> = if beh.lmtp {
                t.rcpts.clone()
            } else {
                vec![t.rcpts[0].clone()]
            };
            for rc in &targets {
                let rep = (beh.data)(rc);
                reply.push_str(&rep);
                reply.push_str("\r\n");
                if rep.starts_with('2') {
                    if beh.lmtp {
                        acked.push(rc.clone());
                    } else {
                        acked = t.rcpts.clone();
                    }
                }
            }
            // Acknowledged before the reply goes: a client killed after
            // it must find the transaction acknowledged.
            seen.lock().unwrap().transactions[idx].acked = acked;
            if io.write_all(reply.as_bytes()).is_err() {
                seen.lock().unwrap().transactions[idx].acked.clear();
                return Ok(());
            }
            continue;
        } else if upper == "RSET" {
            txn = None;
            out.push_str("250 2.0.0 Ok\r\n");
        } else if upper == "NOOP" {
            out.push_str("250 2.0.0 Ok\r\n");
        } else if upper == "QUIT" {
            io.write_all(b"221 2.0.0 Bye\r\n")?;
            return Ok(());
        } else {
            out.push_str("502 5.5.2 Error: command not recognized\r\n");
        }
        io.write_all(out.as_bytes())?;
    }
    Ok(())
}

fn server_config(cert: &std::path::Path, key: &std::path::Path) -> Arc<rustls::ServerConfig> {
    tls::server::config(cert, key, &tls::policy::protocols(">=TLSv1.2").unwrap()).unwrap()
}

/// A TLS stream shared by the reader and the writer halves.
struct SharedIo(Arc<Mutex<rustls::StreamOwned<rustls::ServerConnection, Box<dyn Io>>>>);

impl Read for SharedIo {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().read(buf)
    }
}

impl Write for SharedIo {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap().flush()
    }
}
