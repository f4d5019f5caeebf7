//! # NAME
//! settings — what cleanup(8) reads from main.cf
//!
//! ## DESCRIPTION
//! Read once at start-up; a setting that needs a feature not built yet
//! (lookup tables for canonical, virtual alias, bcc and check maps) is
//! refused with a clear message rather than ignored.

use config::{Config, params};

#[derive(Debug, Clone)]
pub struct Settings {
    pub message_size_limit: u64,
    pub hopcount_limit: usize,
    pub always_add_missing_headers: bool,
    pub duplicate_filter_limit: usize,
    pub drop_headers: Vec<String>,
    pub myhostname: String,
    pub mail_name: String,
    pub rewrite_service: String,
    pub queue_service: String,
    pub enable_original_recipient: bool,
    pub header_size_limit: usize,
}

impl Settings {
    pub fn from_config(cfg: &Config) -> Result<Settings, String> {
        let s = |p: &params::StrParam| cfg.str(p).map_err(|e| e.to_string());
        for p in [
            &params::CANONICAL_MAPS,
            &params::SENDER_CANONICAL_MAPS,
            &params::RECIPIENT_CANONICAL_MAPS,
            &params::VIRTUAL_ALIAS_MAPS,
            &params::MASQUERADE_DOMAINS,
            &params::ALWAYS_BCC,
            &params::SENDER_BCC_MAPS,
            &params::RECIPIENT_BCC_MAPS,
            &params::HEADER_CHECKS,
            &params::MIME_HEADER_CHECKS,
            &params::NESTED_HEADER_CHECKS,
            &params::BODY_CHECKS,
            &params::CONTENT_FILTER,
            &params::NON_SMTPD_MILTERS,
        ] {
            if !s(p)?.is_empty() {
                return Err(format!("{} is not supported yet in cleanup(8)", p.name()));
            }
        }
        let int = |p: &params::IntParam| cfg.int(p).map_err(|e| e.to_string());
        Ok(Settings {
            message_size_limit: cfg
                .long(&params::MESSAGE_SIZE_LIMIT)
                .map_err(|e| e.to_string())?
                .max(0) as u64,
            hopcount_limit: int(&params::HOPCOUNT_LIMIT)?.max(1) as usize,
            always_add_missing_headers: cfg
                .bool(&params::ALWAYS_ADD_MISSING_HEADERS)
                .map_err(|e| e.to_string())?,
            duplicate_filter_limit: int(&params::DUPLICATE_FILTER_LIMIT)?.max(0) as usize,
            drop_headers: cfg
                .list(&params::MESSAGE_DROP_HEADERS)
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            myhostname: s(&params::MYHOSTNAME)?,
            mail_name: s(&params::MAIL_NAME)?,
            rewrite_service: s(&params::REWRITE_SERVICE_NAME)?,
            queue_service: s(&params::QUEUE_SERVICE_NAME)?,
            enable_original_recipient: cfg
                .bool(&params::ENABLE_ORIGINAL_RECIPIENT)
                .map_err(|e| e.to_string())?,
            header_size_limit: cfg
                .long(&params::HEADER_SIZE_LIMIT)
                .map_err(|e| e.to_string())?
                .max(1024) as usize,
        })
    }
}
