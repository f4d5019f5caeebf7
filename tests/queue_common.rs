//! Helpers shared by the queue-operation and notification tests
//! (`tests/queue_ops.rs`, `tests/bounce.rs`): an instance with every
//! service of the issue, sendmail, waiting for the queue, and the
//! normalizations that make our outputs comparable with those recorded
//! from Postfix 3.7 by `scripts/dev/queue-golden.sh`.

#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use testkit::{Instance, MINIMAL_MASTER_CF, wait_for};

pub const T: Duration = Duration::from_secs(20);

pub const MASTER_CF: &str = "pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
flush     unix  n       -       n       1000?   0       flush
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
";

/// A started instance with `main` appended to its main.cf.
pub fn instance(name: &str, main: &str, installed: bool) -> Instance {
    let mut b = Instance::builder(name)
        .master_cf(&format!("{MINIMAL_MASTER_CF}{MASTER_CF}"))
        .main_cf(main);
    if installed {
        b = b.installed();
    }
    let inst = b.build();
    inst.start();
    assert!(inst.wait_log("daemon started", T), "{}", inst.log());
    inst
}

/// Runs a command of the instance as `user` (or the caller) with TZ=UTC,
/// `stdin` as input; returns (exit code, stdout, stderr).
pub fn run_as(
    inst: &Instance,
    user: Option<&str>,
    program: &str,
    args: &[&str],
    stdin: &str,
) -> (i32, String, String) {
    let path = inst.program(program);
    let mut cmd = match user {
        Some(u) => {
            let id = nix::unistd::User::from_name(u).unwrap().unwrap();
            let mut c = Command::new("setpriv");
            c.args([
                format!("--reuid={}", id.uid),
                format!("--regid={}", id.gid),
                "--clear-groups".into(),
                "--".into(),
            ]);
            c.arg(&path);
            c
        }
        None => Command::new(&path),
    };
    let mut child = cmd
        .args(args)
        .env("MAIL_CONFIG", &inst.etc)
        .env("TZ", "UTC")
        .current_dir(&inst.root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run command");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command as the caller.
pub fn run(inst: &Instance, program: &str, args: &[&str]) -> (i32, String, String) {
    run_as(inst, None, program, args, "")
}

/// Submits a message with sendmail; panics unless it is accepted.
pub fn sendmail(inst: &Instance, args: &[&str], message: &str) {
    let (code, _, err) = run_as(inst, None, "sendmail", args, message);
    assert_eq!(code, 0, "sendmail {args:?}: {err}");
}

/// `postqueue -j`, parsed.
pub fn queue(inst: &Instance) -> Vec<serde_json::Value> {
    let (code, out, err) = run(inst, "postqueue", &["-j"]);
    assert_eq!(code, 0, "postqueue -j: {err}");
    out.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect()
}

/// Waits until `postqueue -j` shows `n` messages whose recipients all
/// have a delay reason.
pub fn wait_deferred(inst: &Instance, n: usize) -> bool {
    wait_for(T, || {
        let q = queue(inst);
        q.len() == n
            && q.iter().all(|m| {
                m["recipients"]
                    .as_array()
                    .is_some_and(|r| r.iter().all(|r| r.get("delay_reason").is_some()))
            })
    })
}

/// The ID of the queued message from `sender` (as mailq shows it).
pub fn id_of(inst: &Instance, sender: &str) -> String {
    queue(inst)
        .iter()
        .find(|m| m["sender"] == sender)
        .and_then(|m| m["queue_id"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no message from {sender}"))
}

/// A recorded Postfix output.
pub fn golden(name: &str) -> String {
    std::fs::read_to_string(testkit::repo_dir().join("tests/queue/golden").join(name))
        .unwrap_or_else(|e| panic!("golden file {name}: {e}"))
}

/// Both suites put the queue ID twice in a message they make (Received:
/// and Message-Id:): sizes compare once that is taken out, whatever the
/// length of the IDs.
fn size_without_id(size: u64, id: &str) -> u64 {
    size.saturating_sub(2 * id.len() as u64)
}

/// A `postqueue -p` listing with the queue IDs, arrival times and the
/// column padding they cause taken out, and the entries sorted
/// (directory order differs between two queues).
pub fn normalize_listing(text: &str) -> String {
    let mut blocks: Vec<String> = text.split("\n\n").map(str::to_string).collect();
    let mut head = String::new();
    let mut tail = String::new();
    if let Some(first) = blocks.first_mut()
        && first.starts_with("-Queue ID-")
    {
        let (h, rest) = first.split_once('\n').unwrap_or((first, ""));
        head = h.to_string();
        *first = rest.to_string();
    }
    if let Some(last) = blocks.last_mut()
        && last.starts_with("-- ")
    {
        let words: Vec<&str> = last.split_whitespace().collect();
        tail = format!("-- N Kbytes in {} {}", words[4], words[5]);
        blocks.pop();
    }
    let mut entries: Vec<String> = blocks
        .iter()
        .filter(|b| !b.trim().is_empty())
        .map(|b| {
            let (first, rest) = b.split_once('\n').unwrap_or((b, ""));
            let w: Vec<&str> = first.split_whitespace().collect();
            let id = w[0].trim_end_matches(['*', '!', '#']);
            let marks = &w[0][id.len()..];
            let size: u64 = w[1].parse().unwrap();
            format!(
                "[{}] {} {}\n{}",
                marks,
                size_without_id(size, id),
                w[6..].join(" "),
                rest
            )
        })
        .collect();
    entries.sort();
    format!("{head}\n{}\n{tail}", entries.join("\n\n"))
}

/// `postqueue -j` output the same way.
pub fn normalize_json(text: &str) -> Vec<serde_json::Value> {
    let mut v: Vec<serde_json::Value> = text
        .lines()
        .map(|l| {
            let mut m: serde_json::Value = serde_json::from_str(l).unwrap();
            let id = m["queue_id"].as_str().unwrap().to_string();
            let size = m["message_size"].as_u64().unwrap();
            m["queue_id"] = "ID".into();
            m["arrival_time"] = 0.into();
            m["message_size"] = size_without_id(size, &id).into();
            m
        })
        .collect();
    v.sort_by_key(|m| m.to_string());
    v
}

/// Replaces each of `ids` in `text` with `ID`.
pub fn without_ids(text: &str, ids: &[&str]) -> String {
    let mut t = text.to_string();
    for id in ids {
        t = t.replace(id, "ID");
    }
    t
}

/// The notices in the queue (sender MAILER-DAEMON or the double-bounce
/// address), as (queue ID, message text).
pub fn notices(inst: &Instance) -> Vec<(String, String)> {
    queue(inst)
        .iter()
        .filter(|m| m["sender"] == "MAILER-DAEMON" || m["sender"] == "double-bounce@test.example")
        .map(|m| {
            let id = m["queue_id"].as_str().unwrap().to_string();
            let (code, text, err) = run(inst, "postcat", &["-hbq", &id]);
            assert_eq!(code, 0, "postcat: {err}");
            (id, text)
        })
        .collect()
}

/// Parses a notice with Python's `email` package and returns what it
/// found: the top content type and report-type, the part types, the
/// per-message and per-recipient fields of the delivery-status part, and
/// the defects Python saw.
pub fn parse_with_python(message: &str) -> serde_json::Value {
    const SCRIPT: &str = r#"
import email, json, sys
from email import policy
m = email.message_from_string(sys.stdin.read(), policy=policy.compat32)
out = {
    "type": m.get_content_type(),
    "report_type": m.get_param("report-type"),
    "subject": m["Subject"],
    "to": m["To"],
    "from": m["From"],
    "auto_submitted": m["Auto-Submitted"],
    "defects": [str(d) for d in m.defects],
    "parts": [],
    "per_message": {},
    "recipients": [],
    "original_subject": None,
}
for part in m.get_payload():
    out["parts"].append(part.get_content_type())
    out["defects"] += [str(d) for d in part.defects]
    if part.get_content_type() == "message/delivery-status":
        blocks = part.get_payload()
        out["per_message"] = dict(blocks[0].items())
        out["recipients"] = [dict(b.items()) for b in blocks[1:]]
    elif part.get_content_type() == "message/rfc822":
        out["original_subject"] = part.get_payload()[0]["Subject"]
    elif part.get_content_type() == "text/rfc822-headers":
        inner = email.message_from_string(part.get_payload())
        out["original_subject"] = inner["Subject"]
    elif part.get_content_type() == "text/plain":
        out["text"] = part.get_payload()
print(json.dumps(out))
"#;
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
