//! The golden corpus: our postmap and postalias against what Postfix
//! 3.7's answered for the same files (tests/maps/record.py recorded it).
//! Standard output and exit status are compared for every command;
//! standard error where the case says `stderr`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Record {
    flags: Vec<String>,
    stdin: String,
    cmd: String,
    rc: i32,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

fn parse_expected(data: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    let mut pos = 0;
    let line = |pos: &mut usize| -> String {
        let end = data[*pos..].iter().position(|&b| b == b'\n').unwrap() + *pos;
        let s = String::from_utf8(data[*pos..end].to_vec()).unwrap();
        *pos = end + 1;
        s
    };
    while pos < data.len() {
        let head = line(&mut pos);
        let head = head.strip_prefix("=== ").expect("record header");
        let parts: Vec<&str> = head.splitn(3, " | ").collect();
        let rc: i32 = line(&mut pos).strip_prefix("rc ").unwrap().parse().unwrap();
        let mut blob = |name: &str| {
            let n: usize = line(&mut pos)
                .strip_prefix(name)
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            let b = data[pos..pos + n].to_vec();
            pos += n + 1;
            b
        };
        let stdout = blob("stdout ");
        let stderr = blob("stderr ");
        out.push(Record {
            flags: parts[0].split(',').map(|s| s.trim().to_string()).collect(),
            stdin: parts[1].to_string(),
            cmd: parts[2].to_string(),
            rc,
            stdout,
            stderr,
        });
    }
    out
}

/// Splits a command line as a shell would (quotes and backslashes).
fn shell_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut have = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                have = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' if matches!(chars.peek(), Some('"' | '\\' | '$' | '`')) => {
                            cur.push(chars.next().unwrap())
                        }
                        c => cur.push(c),
                    }
                }
            }
            '\'' => {
                have = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '\\' => {
                have = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c if c.is_whitespace() => {
                if have {
                    out.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            c => {
                have = true;
                cur.push(c);
            }
        }
    }
    if have {
        out.push(cur);
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn normalize(text: &[u8], flags: &[String]) -> String {
    let mut lines: Vec<String> = String::from_utf8_lossy(text)
        .lines()
        .map(str::to_string)
        .collect();
    if flags.iter().any(|f| f == "yp") {
        for l in &mut lines {
            if l.starts_with("YP_LAST_MODIFIED") {
                *l = "YP_LAST_MODIFIED:\t(time)".into();
            } else if l.starts_with("YP_MASTER_NAME") {
                *l = "YP_MASTER_NAME:\t(host)".into();
            }
        }
    }
    if flags.iter().any(|f| f == "dup") {
        // Our duplicate-key warnings name the source file and line where
        // Postfix's name the database file: compare the rest.
        for l in &mut lines {
            if let Some(i) = l.find(": duplicate entry: ") {
                let program = l.split(':').next().unwrap_or("").to_string();
                *l = format!("{program}: warning: (where){}", &l[i..]);
            }
        }
    }
    if flags.iter().any(|f| f == "sort") {
        lines.sort();
    }
    lines.join("\n")
}

fn programs() -> (PathBuf, PathBuf) {
    let postmap = PathBuf::from(env!("CARGO_BIN_EXE_postmap"));
    let postalias = postmap.with_file_name("postalias");
    assert!(
        postalias.exists(),
        "{} is missing: build every binary first (scripts/test does)",
        postalias.display()
    );
    (postmap, postalias)
}

#[test]
fn corpus_matches_postfix() {
    let (postmap, postalias) = programs();
    let cases = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/maps/cases");
    let mut failures = Vec::new();
    let mut count = 0;
    let mut names: Vec<_> = std::fs::read_dir(&cases)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    for name in names {
        let case = cases.join(&name);
        let expected = std::fs::read(case.join("expected")).expect("expected file");
        let work = std::env::temp_dir().join(format!(
            "maps-corpus-{}-{}",
            std::process::id(),
            name.to_string_lossy()
        ));
        let _ = std::fs::remove_dir_all(&work);
        let conf = work.join("conf");
        std::fs::create_dir_all(&conf).unwrap();
        let main_cf = std::fs::read(case.join("main.cf")).unwrap_or_default();
        std::fs::write(conf.join("main.cf"), main_cf).unwrap();
        let data = work.join("data");
        copy_dir(&case, &data);
        for r in parse_expected(&expected) {
            count += 1;
            let argv = shell_words(&r.cmd);
            let prog = if argv[0] == "postalias" {
                &postalias
            } else {
                &postmap
            };
            let mut c = Command::new(prog);
            c.arg0(&argv[0]);
            c.arg("-c").arg(&conf).args(&argv[1..]).current_dir(&data);
            c.stdin(if r.stdin == "-" {
                Stdio::null()
            } else {
                Stdio::from(std::fs::File::open(data.join(&r.stdin)).unwrap())
            });
            let out = c.output().unwrap();
            let got_out = normalize(&out.stdout, &r.flags);
            let want_out = normalize(&r.stdout, &r.flags);
            let got_rc = out.status.code().unwrap_or(-1);
            let mut bad = Vec::new();
            if got_rc != r.rc {
                bad.push(format!("exit status {got_rc}, Postfix {}", r.rc));
            }
            if got_out != want_out {
                bad.push(format!("stdout:\n{got_out}\nPostfix:\n{want_out}"));
            }
            if r.flags.iter().any(|f| f == "stderr") {
                let got_err = normalize(&out.stderr, &r.flags);
                let want_err = normalize(&r.stderr, &r.flags);
                if got_err != want_err {
                    bad.push(format!("stderr:\n{got_err}\nPostfix:\n{want_err}"));
                }
            }
            if !bad.is_empty() {
                failures.push(format!(
                    "[{}] {}\n{}",
                    name.to_string_lossy(),
                    r.cmd,
                    bad.join("\n")
                ));
            }
        }
        let _ = std::fs::remove_dir_all(&work);
    }
    assert!(count > 100, "corpus too small: {count} commands");
    assert!(
        failures.is_empty(),
        "{} of {count} commands differ from Postfix:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

use std::os::unix::process::CommandExt;
