//! # NAME
//! dotforward — delivery through the user's `.forward` file
//!
//! ## DESCRIPTION
//! Each element of `forward_path` is expanded with the recipient's
//! attributes (values through `forward_expansion_filter`); an element
//! that names an attribute without a value (`$extension` of an address
//! without one) is skipped. The first file that exists is used; it is
//! opened with the user's rights. A file that belongs to someone other
//! than the user or root, or that others may write, is ignored with a
//! warning, as Postfix does; so is anything but a regular file. An empty
//! file means the mailbox.
//!
//! Its destinations run with the user's rights; its addresses are
//! forwarded, except the user's own, which means the mailbox.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

use daemon::warn;

use crate::state::{ExpType, MsgAttr, Run, UserAttr};

/// The most a `.forward` file may hold.
const FORWARD_LIMIT: u64 = 1 << 20;

/// Delivers through the `.forward` file; false when there is none.
pub fn deliver_dotforward(run: &mut Run<'_>, attr: &MsgAttr, usr: &UserAttr) -> bool {
    if attr.exp_type == ExpType::Forward {
        return false;
    }
    let template = run.s.forward_path.clone();
    let filter = run.s.forward_filter.clone();
    let delimiters = run.s.delimiters.clone();
    for element in maps::split_list(&template) {
        let lookup = |name: &str| {
            attr.expansion(name, Some(usr), &delimiters)
                .map(|v| delivery::expand::filter(&v, &filter))
        };
        let path = match delivery::expand::expand(&element, &lookup) {
            Ok(e) if !e.undefined && !e.text.is_empty() => e.text,
            Ok(_) => continue,
            Err(e) => {
                warn!("forward_path: {e}");
                continue;
            }
        };
        let found = {
            let Ok(_as_user) = sys::privs::impersonate(usr.uid, usr.gid) else {
                warn!("cannot switch to user ID {}", usr.uid);
                continue;
            };
            read_forward(&path, usr)
        };
        // Logged with root's rights again (the log socket may not be the
        // user's to write).
        let text = match found {
            Ok(Some(t)) => t,
            Ok(None) => continue,
            Err(warning) => {
                warn!("{warning}");
                continue;
            }
        };
        if text.trim().is_empty() {
            // An empty .forward: the mailbox.
            return false;
        }
        let mut child = attr.clone();
        child.exp_type = ExpType::Forward;
        child.unmatched = None;
        if run.s.forward_find.propagate_extension && path_lacks_extension(&element) {
            child.unmatched = attr
                .extension
                .as_ref()
                .map(|e| format!("{}{}", attr.delimiter.unwrap_or('+'), e));
        }
        for line in text.lines() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            crate::token::deliver_tokens(run, &child, usr, l);
        }
        return true;
    }
    false
}

/// Whether a forward_path element is one without the extension (so that
/// an unmatched extension is propagated).
fn path_lacks_extension(element: &str) -> bool {
    !element.contains("extension")
}

/// Reads a `.forward` file: `None` when there is none, the warning when
/// it may not be used.
fn read_forward(path: &str, usr: &UserAttr) -> Result<Option<String>, String> {
    let mut f = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                || e.raw_os_error() == Some(nix::libc::ENOTDIR) =>
        {
            return Ok(None);
        }
        Err(e) => {
            return Err(format!(
                "cannot open file {}: {}",
                path,
                delivery::strerror(&e)
            ));
        }
    };
    let m = f
        .metadata()
        .map_err(|e| format!("cannot stat file {path}: {e}"))?;
    if !m.is_file() {
        return Err(format!("file {path} is not a regular file"));
    }
    if m.uid() != 0 && m.uid() != usr.uid.as_raw() {
        return Err(format!("file {} has bad owner uid {}", path, m.uid()));
    }
    if m.mode() & 0o002 != 0 {
        return Err(format!("file {path} is world writable"));
    }
    let mut text = String::new();
    (&mut f)
        .take(FORWARD_LIMIT)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read file {}: {}", path, delivery::strerror(&e)))?;
    Ok(Some(text))
}
