//! socketmap: and tcp: tables against small servers on the loopback
//! interface, including a server that goes away (a temporary failure).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::thread;

use maps::{MapError, OpenFlags};

fn cfg() -> config::Config {
    config::Config::from_text(std::path::Path::new("/tmp"), "").unwrap()
}

fn netstring(r: &mut impl BufRead) -> Option<String> {
    let mut len = Vec::new();
    r.read_until(b':', &mut len).ok()?;
    len.pop()?;
    let n: usize = String::from_utf8(len).ok()?.parse().ok()?;
    let mut b = vec![0; n + 1];
    r.read_exact(&mut b).ok()?;
    b.pop();
    String::from_utf8(b).ok()
}

/// A socketmap server answering from a fixed list; serves `conns`
/// connections, then stops listening.
fn socketmap_server(conns: usize) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for _ in 0..conns {
            let Ok((s, _)) = l.accept() else { return };
            let mut w = s.try_clone().unwrap();
            let mut r = BufReader::new(s);
            while let Some(q) = netstring(&mut r) {
                let reply = match q.as_str() {
                    "virtual user@example.com" => "OK joe@example.com".to_string(),
                    "virtual temp@example.com" => "TEMP database down".to_string(),
                    "virtual perm@example.com" => "PERM no such map".to_string(),
                    "virtual big" => format!("OK {}", "x".repeat(200_000)),
                    _ => "NOTFOUND ".to_string(),
                };
                let _ = w.write_all(format!("{}:{},", reply.len(), reply).as_bytes());
            }
        }
    });
    port
}

#[test]
fn socketmap_answers() {
    let port = socketmap_server(5);
    let spec = format!("socketmap:inet:127.0.0.1:{port}:virtual");
    let mut d = maps::open(&spec, &cfg(), OpenFlags::default()).unwrap();
    assert_eq!(
        d.lookup("user@example.com").unwrap().as_deref(),
        Some("joe@example.com")
    );
    assert_eq!(d.lookup("other@example.com").unwrap(), None);
    assert!(matches!(
        d.lookup("temp@example.com"),
        Err(MapError::Temp { .. })
    ));
    assert!(matches!(
        d.lookup("perm@example.com"),
        Err(MapError::Config { .. })
    ));
    // Too long a reply breaks the connection: a temporary failure; the
    // next lookup reconnects.
    assert!(matches!(d.lookup("big"), Err(MapError::Temp { .. })));
    assert_eq!(
        d.lookup("user@example.com").unwrap().as_deref(),
        Some("joe@example.com")
    );
    assert!(maps::open("socketmap:inet:127.0.0.1", &cfg(), OpenFlags::default()).is_err());
}

#[test]
fn socketmap_server_down_is_temporary() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let spec = format!("socketmap:inet:127.0.0.1:{port}:virtual");
    let mut d = maps::open(&spec, &cfg(), OpenFlags::default()).unwrap();
    assert!(matches!(d.lookup("x"), Err(MapError::Temp { .. })));
}

#[test]
fn tcp_table() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut w = s.try_clone().unwrap();
        for line in BufReader::new(s).lines() {
            let line = line.unwrap();
            let reply = match line.as_str() {
                "get user@example.com" => "200 smtp:%5Brelay%5D value%20with%20space",
                "get a%20b" => "200 spaced",
                "get temp" => "400 try%20later",
                _ => "500 not found",
            };
            let _ = writeln!(w, "{reply}");
        }
    });
    let mut d = maps::open(
        &format!("tcp:127.0.0.1:{port}"),
        &cfg(),
        OpenFlags::default(),
    )
    .unwrap();
    assert_eq!(
        d.lookup("user@example.com").unwrap().as_deref(),
        Some("smtp:[relay] value with space")
    );
    assert_eq!(d.lookup("a b").unwrap().as_deref(), Some("spaced"));
    assert_eq!(d.lookup("nothing").unwrap(), None);
    match d.lookup("temp") {
        Err(MapError::Temp { reason, .. }) => assert!(reason.contains("try later"), "{reason}"),
        other => panic!("{other:?}"),
    }
}
