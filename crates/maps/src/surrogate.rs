//! # NAME
//! surrogate — a table that could not be opened
//!
//! ## DESCRIPTION
//! A daemon whose table cannot be opened (missing file, bad
//! configuration) keeps running: the table is replaced by one whose every
//! lookup fails with the open error, so that mail that needs the table is
//! deferred, not bounced, and the daemon does not die in a loop while the
//! administrator fixes the table (Postfix's `dict_surrogate`).

use crate::{Dict, MapError};

pub struct Surrogate {
    name: String,
    error: MapError,
}

impl Surrogate {
    pub fn new(spec: &str, error: MapError) -> Surrogate {
        Surrogate {
            name: spec.to_string(),
            error,
        }
    }
}

impl Dict for Surrogate {
    fn lookup(&mut self, _key: &str) -> Result<Option<String>, MapError> {
        Err(self.error.clone())
    }

    fn name(&self) -> &str {
        &self.name
    }

    /// A surrogate does not ask for a restart: that would restart the
    /// daemon after every request while the table is broken. The next
    /// process (after max_use or max_idle) tries to open the table again.
    fn changed(&self) -> bool {
        false
    }
}
