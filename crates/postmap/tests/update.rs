//! Concurrent `postmap -i` runs on one table lose no update: each edits
//! a copy under a lock and renames it into place.

use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn concurrent_incremental_updates_keep_every_entry() {
    let dir = std::env::temp_dir().join(format!("postmap-update-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.cf"), "").unwrap();
    let src = dir.join("t");
    std::fs::write(&src, "base value\n").unwrap();
    let postmap = env!("CARGO_BIN_EXE_postmap");
    let table = format!("hash:{}", src.display());
    let ok = Command::new(postmap)
        .arg("-c")
        .arg(&dir)
        .arg(&table)
        .status()
        .unwrap();
    assert!(ok.success());
    let children: Vec<_> = (0..8)
        .map(|i| {
            let mut c = Command::new(postmap)
                .arg("-c")
                .arg(&dir)
                .args(["-i", &table])
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            writeln!(c.stdin.take().unwrap(), "key{i} value{i}").unwrap();
            c
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let out = Command::new(postmap)
        .arg("-c")
        .arg(&dir)
        .args(["-s", &table])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for i in 0..8 {
        assert!(
            text.contains(&format!("key{i}\tvalue{i}\n")),
            "key{i} lost:\n{text}"
        );
    }
    assert!(text.contains("base\tvalue\n"));
    let _ = std::fs::remove_dir_all(&dir);
}
