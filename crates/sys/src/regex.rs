//! # NAME
//! regex — POSIX regular expressions of the C library (regcomp, regexec)
//!
//! ## SYNOPSIS
//! ```ignore
//! let re = PosixRegex::new("^(.*)@example\\.com$", REG_EXTENDED | REG_ICASE)?;
//! if let Some(groups) = re.exec("User@Example.com") { /* groups[1] == Some((0, 4)) */ }
//! ```
//!
//! ## DESCRIPTION
//! `regexp:` tables use the system's POSIX regular expressions, as
//! Postfix does, so that a table matches and substitutes the same way and
//! a bad pattern gets the same message. Compile errors carry the text of
//! regerror(3). A compiled expression is only read by regexec(3), which
//! the C library allows from any thread.
//!
//! ## SEE ALSO
//! regex(7), regcomp(3)

use std::ffi::CString;

pub use libc::{REG_EXTENDED, REG_ICASE, REG_NEWLINE, REG_NOSUB};

/// A compiled POSIX regular expression.
pub struct PosixRegex {
    re: Box<libc::regex_t>,
    groups: usize,
}

// SAFETY: a compiled regex_t is owned by this value alone and regexec(3)
// only reads it; moving it to another thread is allowed by POSIX.
unsafe impl Send for PosixRegex {}

impl PosixRegex {
    /// Compiles `pattern` with `REG_*` flags; the error is regerror's text.
    pub fn new(pattern: &str, flags: i32) -> Result<PosixRegex, String> {
        let c = CString::new(pattern).map_err(|_| "pattern contains a null byte".to_string())?;
        // SAFETY: regex_t is plain data that regcomp initializes; zeroed is
        // a valid bit pattern for it before the call.
        let mut re: Box<libc::regex_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: `re` points to writable memory of the right type and `c`
        // is a NUL-terminated string that lives across the call.
        let rc = unsafe { libc::regcomp(&mut *re, c.as_ptr(), flags) };
        if rc != 0 {
            let mut buf = vec![0u8; 256];
            // SAFETY: regerror writes at most buf.len() bytes, NUL included,
            // into buf; `re` was passed to regcomp.
            let n = unsafe { libc::regerror(rc, &*re, buf.as_mut_ptr().cast(), buf.len()) };
            // SAFETY: regcomp may have allocated memory even on failure;
            // regfree releases it and is valid on a failed compile in glibc.
            unsafe { libc::regfree(&mut *re) };
            let end = buf.iter().position(|&b| b == 0).unwrap_or(n.min(buf.len()));
            return Err(String::from_utf8_lossy(&buf[..end]).into_owned());
        }
        Ok(PosixRegex {
            re,
            groups: count_groups(pattern, flags & REG_EXTENDED != 0),
        })
    }

    /// The number of parenthesized subexpressions.
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// Matches `subject`; on a match, the byte range of the whole match
    /// and of each subexpression (`None` when it did not take part).
    pub fn exec(&self, subject: &str) -> Option<Vec<Option<(usize, usize)>>> {
        let c = CString::new(subject).ok()?;
        let n = self.groups + 1;
        let mut m = vec![
            libc::regmatch_t {
                rm_so: -1,
                rm_eo: -1
            };
            n
        ];
        // SAFETY: `self.re` holds a compiled expression; `m` has room for
        // `n` matches and `c` is NUL-terminated and outlives the call.
        let rc = unsafe { libc::regexec(&*self.re, c.as_ptr(), n, m.as_mut_ptr(), 0) };
        if rc != 0 {
            return None;
        }
        Some(
            m.iter()
                .map(|r| (r.rm_so >= 0).then_some((r.rm_so as usize, r.rm_eo as usize)))
                .collect(),
        )
    }
}

impl Drop for PosixRegex {
    fn drop(&mut self) {
        // SAFETY: `self.re` was compiled by regcomp and is freed once.
        unsafe { libc::regfree(&mut *self.re) };
    }
}

/// Counts capturing groups: `(` in extended syntax, `\(` in basic, outside
/// bracket expressions.
fn count_groups(p: &str, extended: bool) -> usize {
    let b = p.as_bytes();
    let mut i = 0;
    let mut n = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                if !extended && b.get(i + 1) == Some(&b'(') {
                    n += 1;
                }
                i += 2;
                continue;
            }
            b'(' if extended => n += 1,
            b'[' => {
                // Skip the bracket expression: a leading ^ and ] are literal.
                i += 1;
                if b.get(i) == Some(&b'^') {
                    i += 1;
                }
                if b.get(i) == Some(&b']') {
                    i += 1;
                }
                while i < b.len() && b[i] != b']' {
                    if b[i] == b'[' && matches!(b.get(i + 1), Some(b':' | b'.' | b'=')) {
                        let close = b[i + 1];
                        i += 2;
                        while i + 1 < b.len() && !(b[i] == close && b[i + 1] == b']') {
                            i += 1;
                        }
                        i += 2;
                        continue;
                    }
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_and_groups() {
        let re = PosixRegex::new("^(.*)@(example)\\.com$", REG_EXTENDED | REG_ICASE).unwrap();
        assert_eq!(re.groups(), 2);
        let m = re.exec("User@Example.com").unwrap();
        assert_eq!(m[1], Some((0, 4)));
        assert!(re.exec("user@other.com").is_none());
        let re = PosixRegex::new("a|(b)", REG_EXTENDED).unwrap();
        assert_eq!(re.exec("a").unwrap()[1], None);
        assert_eq!(count_groups("[(]\\((x)[[:alpha:]()]", true), 1);
        assert_eq!(count_groups("\\(a\\)(b)", false), 1);
    }

    #[test]
    fn errors_have_regerror_text() {
        let e = PosixRegex::new("(", REG_EXTENDED).err().unwrap();
        assert_eq!(e, "Unmatched ( or \\(");
    }
}
