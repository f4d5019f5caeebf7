//! Golden tests: our postconf against what Postfix 3.7.11's printed.
//!
//! Runs every command of `tests/postconf/commands` on a fresh copy of its
//! case directory and compares stdout, stderr, the exit status and the
//! edited files with `tests/postconf/expected/`, which
//! `tests/postconf/regen.sh` recorded from Postfix's own postconf. Both
//! sides are normalized the same way (see regen.sh): host-dependent values
//! become placeholders and the warnings that Postfix prints in hash-table
//! order are sorted.
//!
//! Known differences, applied to the expected output only:
//! - `-m`: Postfix on Debian lists table types this system does not have
//!   (`memcache`); only the types of `maps::TABLE_TYPES` are expected.
//! - `-a`, `-A`: Postfix built with Cyrus SASL lists `cyrus`; only
//!   `dovecot` is expected.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/postconf")
}

/// One line of the commands file.
struct Case {
    case: String,
    name: String,
    env: Vec<(String, String)>,
    args: Vec<String>,
}

/// Splits on spaces; 'single quotes' keep spaces.
fn split_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

fn commands() -> Vec<Case> {
    let text = fs::read_to_string(corpus().join("commands")).expect("commands file");
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = split_words(line).into_iter();
        let case = words.next().expect("case");
        let name = words.next().expect("name");
        let mut env = Vec::new();
        let mut args = Vec::new();
        for w in words {
            match w.strip_prefix("env:") {
                Some(kv) => {
                    let (k, v) = kv.split_once('=').expect("env:VAR=VALUE");
                    env.push((k.to_string(), v.to_string()));
                }
                None => args.push(w),
            }
        }
        assert!(
            args.iter().any(|a| a == "-c") || env.iter().any(|(k, _)| k == "MAIL_CONFIG"),
            "{case} {name}: name the configuration directory"
        );
        out.push(Case {
            case,
            name,
            env,
            args,
        });
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}

struct Output {
    stdout: String,
    stderr: String,
    status: i32,
}

/// Runs our postconf as "postconf" in `dir`.
fn postconf(dir: &Path, env: &[(String, String)], args: &[String]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_postconf"))
        .arg0("postconf")
        .args(args)
        .current_dir(dir)
        .env_remove("MAIL_CONFIG")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run postconf");
    Output {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        status: out.status.code().unwrap_or(-1),
    }
}

/// The values that depend on the host, as regen.sh finds them.
struct HostValues {
    dir: String,
    myhostname: String,
    mydomain: String,
    mynetworks: String,
    version: String,
    release: String,
    daemon: String,
}

fn host_values(dir: &Path, empty: &Path, defaults: bool) -> HostValues {
    let names = ["myhostname", "mydomain", "mynetworks"].map(String::from);
    let mut args = vec!["-c".to_string(), ".".to_string()];
    args.push(if defaults { "-d" } else { "-x" }.to_string());
    args.push("-h".to_string());
    args.extend(names.iter().cloned());
    let out = postconf(dir, &[], &args);
    let mut vals: Vec<String> = if out.status == 0 {
        out.stdout.lines().map(str::to_string).collect()
    } else {
        Vec::new()
    };
    vals.resize(3, String::new());
    if !defaults {
        let main = fs::read_to_string(dir.join("main.cf")).unwrap_or_default();
        for (i, n) in names.iter().enumerate() {
            let set = main.lines().any(|l| {
                l.strip_prefix(n.as_str())
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            });
            if set {
                vals[i].clear();
            }
        }
    }
    let default = |n: &str| {
        let args = ["-c", &empty.to_string_lossy(), "-d", "-h", n].map(String::from);
        postconf(empty, &[], &args).stdout.trim_end().to_string()
    };
    HostValues {
        dir: dir.to_string_lossy().into_owned(),
        myhostname: vals[0].clone(),
        mydomain: vals[1].clone(),
        mynetworks: vals[2].clone(),
        version: default("mail_version"),
        release: default("mail_release_date"),
        daemon: default("daemon_directory"),
    }
}

fn replace_lit(t: &str, v: &str, p: &str) -> String {
    if v.is_empty() {
        t.to_string()
    } else {
        t.replace(v, p)
    }
}

/// Replaces `v` where it is not part of a longer host name.
fn replace_word(t: &str, v: &str, p: &str) -> String {
    if v.is_empty() {
        return t.to_string();
    }
    let name_char = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-');
    let mut out = String::new();
    let mut at = 0;
    while let Some(i) = t[at..].find(v).map(|i| at + i) {
        let before = t[..i].chars().last();
        let after = t[i + v.len()..].chars().next();
        out.push_str(&t[at..i]);
        out.push_str(if name_char(before) || name_char(after) {
            v
        } else {
            p
        });
        at = i + v.len();
    }
    out.push_str(&t[at..]);
    out
}

/// Which run of warnings a line belongs to (see regen.sh).
fn warning_class(l: &str) -> &'static str {
    if let Some(i) = l.find(": unused parameter: ")
        && let Some(w) = l[..i].rfind(": warning: ")
    {
        let file = &l[w + ": warning: ".len()..i];
        if !file.contains(' ') {
            return if file.ends_with("main.cf") {
                "B"
            } else if file.ends_with("master.cf") {
                "C"
            } else {
                "A"
            };
        }
    }
    if l.contains(": warning: ")
        && (l.contains(": undefined parameter: ")
            || l.contains(": read-only parameter assignment: ")
            || l.contains(" configuration \""))
    {
        return "A";
    }
    ""
}

fn normalize(t: &str, h: &HostValues) -> String {
    let mut t = replace_lit(t, &h.dir, "@DIR@");
    t = replace_lit(&t, &h.myhostname, "@MYHOSTNAME@");
    t = replace_word(&t, &h.mydomain, "@MYDOMAIN@");
    t = replace_lit(&t, &h.mynetworks, "@MYNETWORKS@");
    t = replace_lit(&t, &h.version, "@MAIL_VERSION@");
    t = replace_lit(&t, &h.release, "@MAIL_RELEASE_DATE@");
    t = replace_lit(&t, &h.daemon, "@DAEMON_DIRECTORY@");
    t = replace_lit(&t, "/usr/lib/postfix/sbin", "@DAEMON_DIRECTORY@");
    let mut lines: Vec<String> = Vec::new();
    for l in t.split_inclusive('\n') {
        let mut l = l.to_string();
        if let Some(v) = l.strip_prefix("process_id = ")
            && !v.trim_end().is_empty()
            && v.trim_end().bytes().all(|c| c.is_ascii_digit())
        {
            l = format!(
                "process_id = @PID@{}",
                if l.ends_with('\n') { "\n" } else { "" }
            );
        }
        if let Some(i) = l.find("postconf ") {
            let rest = &l[i + "postconf ".len()..];
            let n = rest.bytes().take_while(|c| c.is_ascii_digit()).count();
            if n > 0 && rest[n..].starts_with(" & sleep") {
                l = format!("{}postconf @PID@{}", &l[..i], &rest[n..]);
            }
        }
        lines.push(l);
    }
    // Sort each run of warnings of one class.
    let mut out = Vec::new();
    let mut run: Vec<String> = Vec::new();
    let mut cur = "";
    for l in lines {
        let c = warning_class(&l);
        if c != cur {
            run.sort();
            out.append(&mut run);
            cur = c;
        }
        if c.is_empty() {
            out.push(l);
        } else {
            run.push(l);
        }
    }
    run.sort();
    out.append(&mut run);
    out.concat()
}

/// Applies the known differences to what Postfix printed.
fn expected_stdout(c: &Case, text: String) -> String {
    let has = |f: &str| c.args.iter().any(|a| a == f);
    let keep = |allowed: &dyn Fn(&str) -> bool| {
        text.split_inclusive('\n')
            .filter(|l| allowed(l.trim_end()))
            .collect::<String>()
    };
    if has("-m") {
        keep(&|l: &str| maps::TABLE_TYPES.contains(&l))
    } else if has("-a") || has("-A") {
        keep(&|l: &str| l == "dovecot")
    } else {
        text
    }
}

/// Whether an argument asks for defaults (`-d`, `-df`, ...).
fn asks_defaults(a: &str) -> bool {
    a.starts_with('-')
        && !a.starts_with("--")
        && a[1..]
            .chars()
            .take_while(|c| c.is_ascii_alphabetic() || *c == '#')
            .any(|c| c == 'd')
}

fn first_difference(want: &str, got: &str) -> String {
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        if w != g {
            return format!("line {}:\n  want: {w}\n  got:  {g}", i + 1);
        }
    }
    format!(
        "lengths differ: want {} lines, got {}",
        want.lines().count(),
        got.lines().count()
    )
}

#[test]
fn golden() {
    let root = std::env::temp_dir().join(format!("postconf-golden-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    let empty = root.join("empty");
    fs::create_dir_all(&empty).unwrap();
    let mut failures = Vec::new();
    let cmds = commands();
    assert!(cmds.len() > 100, "commands file looks truncated");
    for (n, c) in cmds.iter().enumerate() {
        let dir = root.join(format!("{}-{}-{n}", c.case, c.name));
        copy_dir(&corpus().join("cases").join(&c.case), &dir);
        let dir_text = dir.to_string_lossy().into_owned();
        let mut originals = Vec::new();
        for f in ["main.cf", "master.cf"] {
            let p = dir.join(f);
            if let Ok(t) = fs::read_to_string(&p) {
                let t = t.replace("@DIR@", &dir_text);
                fs::write(&p, &t).unwrap();
                originals.push((f, Some(t)));
            } else {
                originals.push((f, None));
            }
        }
        let sub = |s: &String| s.replace("@DIR@", &dir_text);
        let args: Vec<String> = c.args.iter().map(sub).collect();
        let env: Vec<(String, String)> = c.env.iter().map(|(k, v)| (k.clone(), sub(v))).collect();
        let out = postconf(&dir, &env, &args);
        let host = host_values(&dir, &empty, args.iter().any(|a| asks_defaults(a)));
        let exp = corpus().join("expected").join(&c.case);
        let read = |ext: &str| fs::read_to_string(exp.join(format!("{}.{ext}", c.name)));
        let what = format!("{} {} ({})", c.case, c.name, c.args.join(" "));
        let want_out = expected_stdout(c, read("out").unwrap_or_else(|e| panic!("{what}: {e}")));
        let got_out = normalize(&out.stdout, &host);
        if want_out != got_out {
            failures.push(format!(
                "{what}: stdout {}",
                first_difference(&want_out, &got_out)
            ));
        }
        let want_err = read("err").unwrap();
        let got_err = normalize(&out.stderr, &host);
        if want_err != got_err {
            failures.push(format!(
                "{what}: stderr {}",
                first_difference(&want_err, &got_err)
            ));
        }
        let want_rc: i32 = read("rc").unwrap().trim().parse().unwrap();
        if want_rc != out.status {
            failures.push(format!(
                "{what}: exit status {} instead of {want_rc}",
                out.status
            ));
        }
        for (f, orig) in &originals {
            let now = fs::read_to_string(dir.join(f)).ok();
            let want = read(f).ok();
            match (&want, &now) {
                (Some(w), Some(n)) => {
                    let n = n.replace(&dir_text, "@DIR@");
                    if *w != n {
                        failures.push(format!("{what}: {f} {}", first_difference(w, &n)));
                    }
                }
                (None, _) if now == *orig => {}
                _ => failures.push(format!("{what}: {f} changed unexpectedly")),
            }
        }
        let _ = fs::remove_dir_all(&dir);
    }
    let _ = fs::remove_dir_all(&root);
    assert!(
        failures.is_empty(),
        "{} of {} commands differ from Postfix:\n{}",
        failures.len(),
        cmds.len(),
        failures.join("\n")
    );
}

#[test]
fn word_replacement_respects_name_boundaries() {
    assert_eq!(
        replace_word("localhost.example x.example.net my-example", "example", "D"),
        "localhost.D x.D.net my-example"
    );
    assert_eq!(replace_word("command com", "com", "D"), "command D");
}
