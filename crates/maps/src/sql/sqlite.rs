//! # NAME
//! sqlite — the database file of `sqlite:` tables
//!
//! ## DESCRIPTION
//! `dbpath` names an SQLite database, opened read-only once and kept
//! open. Values are quoted as sqlite3_mprintf("%q") does (quotes
//! doubled). A locked or unreadable database is a temporary failure.

use std::time::Duration;

use rusqlite::types::ValueRef;

use super::Backend;
use crate::MapError;
use crate::cfgfile::CfgFile;

pub struct Sqlite {
    spec: String,
    path: String,
    conn: Option<rusqlite::Connection>,
}

impl Sqlite {
    pub fn new(spec: &str, cf: &CfgFile) -> Result<Sqlite, MapError> {
        let Some(path) = cf.get("dbpath") else {
            return Err(MapError::config(
                spec,
                format!("{}: missing \"dbpath\" setting", cf.path),
            ));
        };
        Ok(Sqlite {
            spec: spec.to_string(),
            path,
            conn: None,
        })
    }

    fn conn(&mut self) -> Result<&rusqlite::Connection, String> {
        if self.conn.is_none() {
            let c = rusqlite::Connection::open_with_flags(
                &self.path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| format!("{}: open database {}: {e}", self.spec, self.path))?;
            let _ = c.busy_timeout(Duration::from_secs(10));
            self.conn = Some(c);
        }
        self.conn
            .as_ref()
            .ok_or_else(|| "invariant: connection just opened".to_string())
    }
}

impl Backend for Sqlite {
    fn quote(&self, s: &str) -> String {
        s.replace('\0', "").replace('\'', "''")
    }

    fn query(&mut self, q: &str) -> Result<Vec<Vec<Option<String>>>, String> {
        let spec = self.spec.clone();
        let conn = self.conn()?;
        let run = || -> rusqlite::Result<Vec<Vec<Option<String>>>> {
            let mut st = conn.prepare(q)?;
            let n = st.column_count();
            let mut rows = st.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let mut row = Vec::with_capacity(n);
                for i in 0..n {
                    row.push(match r.get_ref(i)? {
                        ValueRef::Null => None,
                        ValueRef::Integer(i) => Some(i.to_string()),
                        ValueRef::Real(f) => Some(f.to_string()),
                        ValueRef::Text(t) | ValueRef::Blob(t) => {
                            Some(String::from_utf8_lossy(t).into_owned())
                        }
                    });
                }
                out.push(row);
            }
            Ok(out)
        };
        run().map_err(|e| format!("{spec}: query failed: {e}"))
    }
}
