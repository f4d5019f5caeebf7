//! # postcat(1) — show Postfix queue file contents
//!
//! ## SYNOPSIS
//! `postcat` [`-bdehoqrv`] [`-c` *config_dir*] [`-s` *offset*] [*files* ...]
//!
//! ## DESCRIPTION
//! Prints queue files in human-readable form, in Postfix's layout
//! ([`show`]): the envelope records, the message header and body, the
//! records extracted from the content, with section markers. Without
//! files it reads standard input. Options:
//!
//! * `-e` envelope, `-h` header, `-b` body (from the first non-header
//!   line); the default is all three, and without `-e` no markers;
//! * `-o` file offset and `-d` decimal record type before each record;
//! * `-q` looks the names up as queue IDs in the `maildrop`, `incoming`,
//!   `active`, `deferred`, `hold`, `saved` and `corrupt` queues;
//! * `-s` *offset* starts reading at that offset; `-r` (print in file
//!   order) is accepted: the format has no pointer records;
//! * `-v` shows content lines as `regular_text:` records.
//!
//! ## DIAGNOSTICS
//! `postcat: warning: NAME: input is not a valid queue file` for a file
//! of another kind (then the next file); `postcat: fatal: ...` and exit
//! status 1 for a missing file, a bad queue ID, a damaged file or a bad
//! option.
//!
//! ## SECURITY
//! Run by root to read the queue; `-q` never follows a symbolic link in
//! the queue.
//!
//! ## SEE ALSO
//! postsuper(1), mailq(1), [`queue::stream`]

#![forbid(unsafe_code)]

mod show;

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use config::Config;
use daemon::log::{self, Level};
use queue::record::RecordType;
use queue::stream::RecordStream;
use queue::{Layout, QueueId};
use show::{Options, ShowError};

const USAGE: &str = "usage: postcat [-b (body text)] [-c config_dir] [-d (decimal record type)] [-e (envelope records)] [-h (header text)] [-o (offsets)] [-q (access queue)] [-r (file order)] [-s (skip to offset)] [-v] [file(s)...]";

/// Where -q looks, in order.
const QUEUES: &[&str] = &[
    "maildrop", "incoming", "active", "deferred", "hold", "saved", "corrupt",
];

fn die(text: &str) -> ! {
    log::log_str(Level::Fatal, text);
    std::process::exit(1)
}

/// The `message_size:` line Postfix prints first, from our size record
/// (at the end of the file) and the envelope.
fn size_line(r: impl Read) -> Option<(u64, String)> {
    let mut s = RecordStream::new(r);
    s.magic().ok()?;
    let (mut rcpts, mut content_at, mut size) = (0u64, 0u64, None);
    while let Ok(Some((h, data))) = s.next_record() {
        match h.kind {
            RecordType::Rcpt | RecordType::Done | RecordType::Cancelled => rcpts += 1,
            RecordType::Content => content_at = h.data,
            RecordType::Size => {
                size = Some((
                    h.offset,
                    String::from_utf8_lossy(&data).parse::<u64>().ok()?,
                ))
            }
            RecordType::End => break,
            _ => {}
        }
    }
    let (offset, size) = size?;
    Some((
        offset,
        format!(
            "message_size: {:>15} {:>15} {:>15} {:>15} {:>15} {:>15}",
            size, content_at, rcpts, 0, size, 0
        ),
    ))
}

/// Finds a queue file by ID; returns it and its name under the queue.
fn find(layout: &Layout, name: &str) -> (File, String) {
    let Some(id) = QueueId::parse(name) else {
        die(&format!("bad mail queue ID: {name}"))
    };
    for q in QUEUES {
        let path = layout.path_of(q, &id);
        match OpenOptions::new()
            .read(true)
            // A link or a fifo in the queue must not be followed or hang us.
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(&path)
        {
            Ok(f) => {
                let rel = path
                    .strip_prefix(&layout.queue_dir)
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| path.display().to_string());
                return (f, rel);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => die(&format!("open queue file {name}: {e}")),
        }
    }
    die(&format!(
        "open queue file {name}: No such file or directory"
    ))
}

fn main() {
    log::init(None, "postcat");
    log::set_stderr(true);
    log::set_stderr_name("postcat");
    let mut opts = Options::default();
    let (mut dir, mut by_id) = (None, false);
    let mut argv = std::env::args().skip(1).peekable();
    while let Some(word) = argv.next_if(|w| w.starts_with('-') && w.len() > 1) {
        if word == "--" {
            break;
        }
        let o = &word[1..];
        for (i, c) in o.char_indices() {
            if c == 'c' || c == 's' {
                let rest = &o[i + 1..];
                let v = if rest.is_empty() {
                    argv.next().unwrap_or_else(|| {
                        eprintln!("postcat: option requires an argument -- '{c}'");
                        die(USAGE)
                    })
                } else {
                    rest.to_string()
                };
                if c == 'c' {
                    dir = Some(PathBuf::from(v));
                } else {
                    opts.skip = Some(
                        v.parse()
                            .unwrap_or_else(|_| die(&format!("bad offset: {v}"))),
                    );
                }
                break;
            }
            match c {
                'b' => opts.body = true,
                'd' => opts.types = true,
                'e' => opts.envelope = true,
                'h' => opts.header = true,
                'o' => opts.offsets = true,
                'q' => by_id = true,
                'r' => {}
                'v' => opts.verbose = true,
                _ => {
                    eprintln!("postcat: invalid option -- '{c}'");
                    die(USAGE)
                }
            }
        }
    }
    if !(opts.envelope || opts.header || opts.body) {
        opts.envelope = true;
        opts.header = true;
        opts.body = true;
    }
    let names: Vec<String> = argv.collect();
    let layout = if by_id {
        let dir = dir.unwrap_or_else(config::config_dir_from_env);
        let cfg = Config::load(&dir).unwrap_or_else(|e| die(&e.to_string()));
        log::init(Some(&cfg), "postcat");
        log::set_stderr(true);
        Some(Layout::from_config(&cfg).unwrap_or_else(|e| die(&e.to_string())))
    } else {
        None
    };
    if by_id && names.is_empty() {
        die(USAGE);
    }
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let result = |r: Result<(), ShowError>, name: &str, out: &mut BufWriter<_>| match r {
        Ok(()) => {}
        Err(ShowError::NotQueueFile) => {
            let _ = out.flush();
            log::log_str(
                Level::Warning,
                &format!("{name}: input is not a valid queue file"),
            );
        }
        Err(ShowError::Read(e)) => {
            let _ = out.flush();
            die(&format!("{name}: {e}"))
        }
        Err(ShowError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            std::process::exit(1)
        }
        Err(ShowError::Output(e)) => die(&format!("output write error: {e}")),
    };
    if names.is_empty() {
        let mut data = Vec::new();
        if let Err(e) = std::io::stdin().lock().read_to_end(&mut data) {
            die(&format!("read standard input: {e}"));
        }
        let size = size_line(&data[..]);
        let r = show::file(&data[..], "stdin", &opts, &mut out, size);
        result(r, "stdin", &mut out);
    }
    for name in &names {
        let (mut f, shown) = match &layout {
            Some(l) => find(l, name),
            None => match File::open(name) {
                Ok(f) => (f, name.clone()),
                Err(e) => die(&format!("open {name}: {}", errno_text(&e))),
            },
        };
        let size = f
            .try_clone()
            .ok()
            .and_then(|c| size_line(std::io::BufReader::new(c)));
        let _ = f.seek(SeekFrom::Start(0));
        let r = show::file(&mut f, &shown, &opts, &mut out, size);
        result(r, &shown, &mut out);
    }
    if let Err(e) = out.flush()
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        die(&format!("output write error: {e}"));
    }
}

fn errno_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix_desc(n),
        None => e.to_string(),
    }
}

fn nix_desc(n: i32) -> String {
    std::io::Error::from_raw_os_error(n)
        .to_string()
        .split(" (os error")
        .next()
        .unwrap_or_default()
        .to_string()
}
