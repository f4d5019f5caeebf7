//! # NAME
//! sysexits — what a command's exit status means (sys_exits)
//!
//! ## SYNOPSIS
//! ```ignore
//! if let Some(e) = sysexits::lookup(75) { assert_eq!((e.dsn, e.text), ("4.3.0", "temporary failure")) }
//! ```
//!
//! ## DESCRIPTION
//! The statuses of `<sysexits.h>` with the enhanced status code and the
//! text Postfix reports for them; only `EX_TEMPFAIL` and `EX_OSERR` are
//! temporary.

/// One status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SysExit {
    pub status: i32,
    pub name: &'static str,
    pub dsn: &'static str,
    pub text: &'static str,
}

pub const EX_OK: i32 = 0;
pub const EX_USAGE: i32 = 64;
pub const EX_NOUSER: i32 = 67;
pub const EX_UNAVAILABLE: i32 = 69;
pub const EX_SOFTWARE: i32 = 70;
pub const EX_OSERR: i32 = 71;
pub const EX_CANTCREAT: i32 = 73;
pub const EX_TEMPFAIL: i32 = 75;
pub const EX_NOPERM: i32 = 77;
pub const EX_CONFIG: i32 = 78;

const TABLE: [SysExit; 15] = [
    e(64, "EX_USAGE", "5.3.0", "command line usage error"),
    e(65, "EX_DATAERR", "5.6.0", "data format error"),
    e(66, "EX_NOINPUT", "5.3.0", "cannot open input"),
    e(67, "EX_NOUSER", "5.1.1", "user unknown"),
    e(68, "EX_NOHOST", "5.1.2", "host name unknown"),
    e(69, "EX_UNAVAILABLE", "5.3.0", "service unavailable"),
    e(70, "EX_SOFTWARE", "5.3.0", "internal software error"),
    e(71, "EX_OSERR", "4.3.0", "system resource problem"),
    e(72, "EX_OSFILE", "5.3.0", "critical OS file missing"),
    e(73, "EX_CANTCREAT", "5.2.0", "can't create user output file"),
    e(74, "EX_IOERR", "5.3.0", "input/output error"),
    e(75, "EX_TEMPFAIL", "4.3.0", "temporary failure"),
    e(76, "EX_PROTOCOL", "5.5.0", "remote error in protocol"),
    e(77, "EX_NOPERM", "5.7.0", "permission denied"),
    e(78, "EX_CONFIG", "5.3.5", "local configuration error"),
];

const fn e(status: i32, name: &'static str, dsn: &'static str, text: &'static str) -> SysExit {
    SysExit {
        status,
        name,
        dsn,
        text,
    }
}

/// The meaning of `status`, if `<sysexits.h>` defines it.
pub fn lookup(status: i32) -> Option<&'static SysExit> {
    TABLE.iter().find(|e| e.status == status)
}

/// Whether `status` means "try again later".
pub fn is_temporary(status: i32) -> bool {
    lookup(status).is_some_and(|e| e.dsn.starts_with('4'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        assert_eq!(lookup(75).unwrap().text, "temporary failure");
        assert_eq!(lookup(67).unwrap().dsn, "5.1.1");
        assert!(is_temporary(EX_TEMPFAIL) && is_temporary(EX_OSERR));
        assert!(!is_temporary(EX_NOUSER) && !is_temporary(1));
        assert!(lookup(1).is_none() && lookup(79).is_none());
        assert!(TABLE.windows(2).all(|w| w[0].status + 1 == w[1].status));
    }
}
