//! socketmap: and tcp: tables: our postmap -q against Postfix's (where it
//! is installed) on the same loopback servers.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::thread;

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

/// Serves connections until the test process ends.
fn serve(handler: fn(std::net::TcpStream)) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for s in l.incoming().flatten() {
            thread::spawn(move || handler(s));
        }
    });
    port
}

fn socketmap(s: std::net::TcpStream) {
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    while let Some(q) = netstring(&mut r) {
        let reply = match q.as_str() {
            "virtual user@example.com" => "OK joe@example.com",
            "virtual temp@example.com" => "TEMP database down",
            "virtual perm@example.com" => "PERM no such map",
            "virtual weird" => "WHAT?",
            _ => "NOTFOUND ",
        };
        let _ = w.write_all(format!("{}:{},", reply.len(), reply).as_bytes());
    }
}

fn tcp(s: std::net::TcpStream) {
    let mut w = s.try_clone().unwrap();
    for line in BufReader::new(s).lines() {
        let Ok(line) = line else { return };
        let reply = match line.as_str() {
            "get user@example.com" => "200 smtp:%5Brelay%5D%20x",
            "get a%20b" => "200 spaced",
            "get temp" => "400 try%20later",
            _ => "500 not found",
        };
        let _ = writeln!(w, "{reply}");
    }
}

fn compare(table: &str, keys: &[&str]) {
    let postfix = Path::new("/usr/sbin/postmap");
    if !postfix.exists() {
        eprintln!("note: Postfix's postmap is not installed: no comparison");
        return;
    }
    let conf = std::env::temp_dir().join(format!("maps-net-{}", std::process::id()));
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(conf.join("main.cf"), "").unwrap();
    let ours = Path::new(env!("CARGO_BIN_EXE_postmap"));
    for key in keys {
        let run = |p: &Path| {
            let o = Command::new(p)
                .arg("-c")
                .arg(&conf)
                .args(["-q", key, table])
                .output()
                .unwrap();
            (
                o.status.code(),
                String::from_utf8_lossy(&o.stdout).into_owned(),
            )
        };
        assert_eq!(run(ours), run(postfix), "postmap -q '{key}' {table}");
    }
    let _ = std::fs::remove_dir_all(&conf);
}

#[test]
fn socketmap_like_postfix() {
    let port = serve(socketmap);
    compare(
        &format!("socketmap:inet:127.0.0.1:{port}:virtual"),
        &[
            "user@example.com",
            "other@example.com",
            "temp@example.com",
            "perm@example.com",
            "weird",
        ],
    );
}

#[test]
fn tcp_like_postfix() {
    let port = serve(tcp);
    compare(
        &format!("tcp:127.0.0.1:{port}"),
        &["user@example.com", "a b", "nothing", "temp"],
    );
}
