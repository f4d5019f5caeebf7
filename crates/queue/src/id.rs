//! # NAME
//! id — queue IDs, short and long
//!
//! ## SYNOPSIS
//! ```ignore
//! let id = QueueId::new(usec, inode, seconds, long);
//! QueueId::parse("3F2A11B9C4")?;
//! id.hash_dirs(depth)     // ["3"] for hashed queues
//! ```
//!
//! ## DESCRIPTION
//! Queue IDs appear in logs and in mailq(1), so they keep Postfix's forms.
//! The short form (default) is the microseconds of the creation time as
//! five upper-case hex digits followed by the inode number in upper-case
//! hex: `3F2A11B9C4`. The long form (`enable_long_queue_ids = yes`) is the
//! seconds in base 52 (at least six digits), the microseconds in base 52
//! (exactly four), the letter `z`, and the inode in base 51, with an
//! alphabet of digits and consonants: `4Lq8Nm1T7Bz6gH`. Because the inode
//! of a live file is unique, no two queue files share an ID.
//!
//! Hashed queues (`hash_queue_names`) spread files over subdirectories
//! named after the first hex digits of the microseconds, for both forms.
//!
//! ## SEE ALSO
//! [`crate::file`], postconf(5) `enable_long_queue_ids`

use std::fmt;

/// Digits of the long form: digits and consonants, 52 of them.
const ALPHABET: &[u8; 52] = b"0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";

/// A valid queue ID.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueueId(String);

impl QueueId {
    /// Makes the ID of a file created at `seconds`.`usec` with `inode`.
    pub fn new(seconds: u64, usec: u32, inode: u64, long: bool) -> QueueId {
        if long {
            let mut s = base(seconds, 52, 6);
            s.push_str(&base(u64::from(usec), 52, 4));
            s.push('z');
            s.push_str(&base(inode, 51, 1));
            QueueId(s)
        } else {
            QueueId(format!("{:05X}{:X}", usec % 1_000_000, inode))
        }
    }

    /// Whether text may name a queue file at all (Postfix's
    /// `mail_queue_id_ok()`: 1 to 255 letters, digits or `_`), before
    /// it is looked for: commands refuse other names outright.
    pub fn name_ok(s: &str) -> bool {
        !s.is_empty() && s.len() <= 255 && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
    }

    /// Checks text from outside (a command line, a file name).
    pub fn parse(s: &str) -> Option<QueueId> {
        let ok = s.len() >= 6
            && s.len() <= 40
            && (s
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c))
                || (s.bytes().all(|c| ALPHABET.contains(&c)) && long_parts(s).is_some()));
        ok.then(|| QueueId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_long(&self) -> bool {
        self.0.contains('z')
    }

    /// The microseconds as five hex digits, for hashing.
    fn usec_hex(&self) -> String {
        if let Some((_, usec, _)) = long_parts(&self.0) {
            return format!("{:05X}", usec % 1_000_000);
        }
        self.0.chars().take(5).collect()
    }

    /// The hash subdirectories for `depth` levels (`["3", "F"]`).
    pub fn hash_dirs(&self, depth: usize) -> Vec<String> {
        self.usec_hex()
            .chars()
            .take(depth)
            .map(String::from)
            .collect()
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn base(mut n: u64, radix: u64, min_width: usize) -> String {
    let mut digits = Vec::new();
    loop {
        digits.push(ALPHABET[(n % radix) as usize]);
        n /= radix;
        if n == 0 && digits.len() >= min_width {
            break;
        }
    }
    digits.reverse();
    String::from_utf8(digits).expect("invariant: alphabet is ASCII")
}

fn unbase(s: &str, radix: u64) -> Option<u64> {
    let mut n: u64 = 0;
    for c in s.bytes() {
        let d = ALPHABET.iter().position(|&a| a == c)? as u64;
        if d >= radix {
            return None;
        }
        n = n.checked_mul(radix)?.checked_add(d)?;
    }
    Some(n)
}

/// (seconds, usec, inode) of a long ID.
fn long_parts(s: &str) -> Option<(u64, u32, u64)> {
    let (time, inode) = s.split_once('z')?;
    if time.len() < 10 || inode.is_empty() {
        return None;
    }
    let (sec, usec) = time.split_at(time.len() - 4);
    Some((
        unbase(sec, 52)?,
        u32::try_from(unbase(usec, 52)?).ok()?,
        unbase(inode, 51)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_form() {
        let id = QueueId::new(1_700_000_000, 0x3F2A1, 0x1B9C4, false);
        assert_eq!(id.as_str(), "3F2A11B9C4");
        assert_eq!(id.hash_dirs(1), ["3"]);
        assert_eq!(id.hash_dirs(2), ["3", "F"]);
        assert_eq!(QueueId::new(0, 5, 0xA, false).as_str(), "00005A");
        assert!(!id.is_long());
        assert_eq!(QueueId::parse("3F2A11B9C4"), Some(id));
    }

    #[test]
    fn long_form() {
        let id = QueueId::new(1_700_000_000, 123_456, 987_654, true);
        let s = id.as_str();
        assert!(s.contains('z'));
        assert!(!s.bytes().any(|c| b"aeiouAEIOU".contains(&c)));
        assert_eq!(long_parts(s), Some((1_700_000_000, 123_456, 987_654)));
        assert_eq!(
            id.hash_dirs(1),
            [format!("{:05X}", 123_456)
                .chars()
                .next()
                .unwrap()
                .to_string()]
        );
        assert!(id.is_long());
        assert_eq!(QueueId::parse(s), Some(id.clone()));
        // Long IDs sort by time.
        let later = QueueId::new(1_700_000_001, 0, 1, true);
        assert!(later > id);
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "../etc",
            "3f2a11b9c4x",
            "ABC",
            "A B C D E",
            "3F2A1/1B9C4",
        ] {
            assert!(QueueId::parse(bad).is_none(), "{bad}");
        }
    }
}
