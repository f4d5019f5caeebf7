//! # NAME
//! settings — what cleanup(8) reads from main.cf
//!
//! ## DESCRIPTION
//! Read once at start-up. The lookup tables are opened separately
//! ([`crate::tables`]); this holds the plain values: limits, names, which
//! address classes canonical mapping and masquerading apply to, and the
//! `receive_override_options` that take features away from every client.
//! `non_smtpd_milters` is refused with a clear message: milters are not
//! built yet, and ignoring one would let mail through that the
//! administrator meant to be inspected.

use config::{Config, params};

/// Address classes of `canonical_classes`, `masquerade_classes`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Classes {
    pub envelope_sender: bool,
    pub envelope_recipient: bool,
    pub header_sender: bool,
    pub header_recipient: bool,
}

impl Classes {
    /// Parses a list of class names; an unknown name is an error, as with
    /// Postfix.
    pub fn parse(param: &str, value: &[String]) -> Result<Classes, String> {
        let mut c = Classes::default();
        for v in value {
            match v.to_ascii_lowercase().as_str() {
                "envelope_sender" => c.envelope_sender = true,
                "envelope_recipient" => c.envelope_recipient = true,
                "header_sender" => c.header_sender = true,
                "header_recipient" => c.header_recipient = true,
                _ => return Err(format!("invalid {param} value \"{v}\"")),
            }
        }
        Ok(c)
    }

    #[cfg(test)]
    pub const ALL: Classes = Classes {
        envelope_sender: true,
        envelope_recipient: true,
        header_sender: true,
        header_recipient: true,
    };
}

/// `header_from_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FromFormat {
    /// `From: name <addr>`.
    Standard,
    /// `From: addr (name)`.
    Obsolete,
}

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
    pub line_length_limit: usize,
    pub mime_nesting_limit: usize,
    pub mime_boundary_length_limit: usize,
    pub disable_mime_input_processing: bool,
    pub recipient_delimiter: String,
    pub empty_address_recipient: String,
    pub canonical_classes: Classes,
    pub sender_canonical_classes: Classes,
    pub recipient_canonical_classes: Classes,
    pub masquerade_classes: Classes,
    /// `masquerade_domains`, lower case: (exclusion, domain).
    pub masquerade_domains: Vec<(bool, String)>,
    /// `propagate_unmatched_extensions` names `canonical`, `virtual`.
    pub propagate_canonical: bool,
    pub propagate_virtual: bool,
    pub virtual_alias_recursion_limit: usize,
    pub virtual_alias_expansion_limit: usize,
    pub virtual_alias_address_length_limit: usize,
    pub always_bcc: String,
    pub body_checks_size_limit: u64,
    pub content_filter: String,
    pub header_from_format: FromFormat,
    pub undisclosed_recipients_header: String,
    pub remote_header_rewrite_domain: String,
    /// Flags that `receive_override_options` takes away from every
    /// request ([`ipc::cleanup::flags`]).
    pub override_mask: u32,
}

/// `receive_override_options` as cleanup flags to clear.
fn override_mask(value: &[String]) -> Result<u32, String> {
    use ipc::cleanup::flags;
    let mut mask = 0;
    for v in value {
        match v.to_ascii_lowercase().as_str() {
            "no_unknown_recipient_checks" => {}
            "no_address_mappings" => mask |= flags::MAP_OK | flags::BCC_OK,
            "no_header_body_checks" => mask |= flags::FILTER,
            "no_milters" => mask |= flags::MILTER,
            _ => return Err(format!("invalid receive_override_options value \"{v}\"")),
        }
    }
    Ok(mask)
}

impl Settings {
    pub fn from_config(cfg: &Config) -> Result<Settings, String> {
        let s = |p: &params::StrParam| cfg.str(p).map_err(|e| e.to_string());
        let list = |p: &params::StrParam| cfg.list(p).map_err(|e| e.to_string());
        let int = |p: &params::IntParam| cfg.int(p).map_err(|e| e.to_string());
        let bool = |p: &params::BoolParam| cfg.bool(p).map_err(|e| e.to_string());
        if !s(&params::NON_SMTPD_MILTERS)?.trim().is_empty() {
            return Err(format!(
                "{} is set, but milters are not supported yet in cleanup(8)",
                params::NON_SMTPD_MILTERS.name()
            ));
        }
        let classes = |p: &params::StrParam| Classes::parse(p.name(), &list(p)?);
        let propagate = list(&params::PROPAGATE_UNMATCHED_EXTENSIONS)?;
        let propagates = |f: &str| propagate.iter().any(|p| p.eq_ignore_ascii_case(f));
        let masquerade_domains = list(&params::MASQUERADE_DOMAINS)?
            .into_iter()
            .map(|d| match d.strip_prefix('!') {
                Some(rest) => (true, rest.to_ascii_lowercase()),
                None => (false, d.to_ascii_lowercase()),
            })
            .filter(|(_, d)| !d.is_empty())
            .collect();
        let header_from_format = match s(&params::HEADER_FROM_FORMAT)?
            .to_ascii_lowercase()
            .as_str()
        {
            "standard" => FromFormat::Standard,
            "obsolete" => FromFormat::Obsolete,
            other => return Err(format!("invalid header_from_format value \"{other}\"")),
        };
        Ok(Settings {
            message_size_limit: cfg
                .long(&params::MESSAGE_SIZE_LIMIT)
                .map_err(|e| e.to_string())?
                .max(0) as u64,
            hopcount_limit: int(&params::HOPCOUNT_LIMIT)?.max(1) as usize,
            always_add_missing_headers: bool(&params::ALWAYS_ADD_MISSING_HEADERS)?,
            duplicate_filter_limit: int(&params::DUPLICATE_FILTER_LIMIT)?.max(0) as usize,
            drop_headers: list(&params::MESSAGE_DROP_HEADERS)?
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            myhostname: s(&params::MYHOSTNAME)?,
            mail_name: s(&params::MAIL_NAME)?,
            rewrite_service: s(&params::REWRITE_SERVICE_NAME)?,
            queue_service: s(&params::QUEUE_SERVICE_NAME)?,
            enable_original_recipient: bool(&params::ENABLE_ORIGINAL_RECIPIENT)?,
            header_size_limit: cfg
                .long(&params::HEADER_SIZE_LIMIT)
                .map_err(|e| e.to_string())?
                .max(1024) as usize,
            line_length_limit: int(&params::LINE_LENGTH_LIMIT)?.max(1) as usize,
            mime_nesting_limit: int(&params::MIME_NESTING_LIMIT)?.max(1) as usize,
            mime_boundary_length_limit: int(&params::MIME_BOUNDARY_LENGTH_LIMIT)?.max(1) as usize,
            disable_mime_input_processing: bool(&params::DISABLE_MIME_INPUT_PROCESSING)?,
            recipient_delimiter: s(&params::RECIPIENT_DELIMITER)?,
            empty_address_recipient: s(&params::EMPTY_ADDRESS_RECIPIENT)?,
            canonical_classes: classes(&params::CANONICAL_CLASSES)?,
            sender_canonical_classes: classes(&params::SENDER_CANONICAL_CLASSES)?,
            recipient_canonical_classes: classes(&params::RECIPIENT_CANONICAL_CLASSES)?,
            masquerade_classes: classes(&params::MASQUERADE_CLASSES)?,
            masquerade_domains,
            propagate_canonical: propagates("canonical"),
            propagate_virtual: propagates("virtual"),
            virtual_alias_recursion_limit: int(&params::VIRTUAL_ALIAS_RECURSION_LIMIT)?.max(1)
                as usize,
            virtual_alias_expansion_limit: int(&params::VIRTUAL_ALIAS_EXPANSION_LIMIT)?.max(1)
                as usize,
            virtual_alias_address_length_limit: int(&params::VIRTUAL_ALIAS_ADDRESS_LENGTH_LIMIT)?
                .max(1) as usize,
            always_bcc: s(&params::ALWAYS_BCC)?.trim().to_string(),
            body_checks_size_limit: cfg
                .long(&params::BODY_CHECKS_SIZE_LIMIT)
                .map_err(|e| e.to_string())?
                .max(0) as u64,
            content_filter: s(&params::CONTENT_FILTER)?.trim().to_string(),
            header_from_format,
            undisclosed_recipients_header: s(&params::UNDISCLOSED_RECIPIENTS_HEADER)?
                .trim()
                .to_string(),
            remote_header_rewrite_domain: s(&params::REMOTE_HEADER_REWRITE_DOMAIN)?,
            override_mask: override_mask(&list(&params::RECEIVE_OVERRIDE_OPTIONS)?)?,
        })
    }

    /// Settings for unit tests: Postfix's defaults, names of a test host.
    #[cfg(test)]
    pub fn for_tests() -> Settings {
        Settings {
            message_size_limit: 0,
            hopcount_limit: 50,
            always_add_missing_headers: false,
            duplicate_filter_limit: 1000,
            drop_headers: vec![
                "bcc".into(),
                "content-length".into(),
                "resent-bcc".into(),
                "return-path".into(),
            ],
            myhostname: "host.example".into(),
            mail_name: "Postfix".into(),
            rewrite_service: "rewrite".into(),
            queue_service: "qmgr".into(),
            enable_original_recipient: true,
            header_size_limit: 102400,
            line_length_limit: 2048,
            mime_nesting_limit: 100,
            mime_boundary_length_limit: 2048,
            disable_mime_input_processing: false,
            recipient_delimiter: "+".into(),
            empty_address_recipient: "MAILER-DAEMON".into(),
            canonical_classes: Classes::ALL,
            sender_canonical_classes: Classes {
                envelope_sender: true,
                header_sender: true,
                ..Classes::default()
            },
            recipient_canonical_classes: Classes {
                envelope_recipient: true,
                header_recipient: true,
                ..Classes::default()
            },
            masquerade_classes: Classes {
                envelope_sender: true,
                header_sender: true,
                header_recipient: true,
                ..Classes::default()
            },
            masquerade_domains: Vec::new(),
            propagate_canonical: true,
            propagate_virtual: true,
            virtual_alias_recursion_limit: 1000,
            virtual_alias_expansion_limit: 1000,
            virtual_alias_address_length_limit: 1000,
            always_bcc: String::new(),
            body_checks_size_limit: 51200,
            content_filter: String::new(),
            header_from_format: FromFormat::Standard,
            undisclosed_recipients_header: String::new(),
            remote_header_rewrite_domain: String::new(),
            override_mask: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(main: &str) -> Config {
        Config::from_text(std::path::Path::new("/tmp"), main).unwrap()
    }

    #[test]
    fn defaults_and_lists() {
        let s = Settings::from_config(&cfg(
            "masquerade_domains = !keep.Example.com, example.com\n",
        ))
        .unwrap();
        assert_eq!(s.canonical_classes, Classes::ALL);
        assert!(s.masquerade_classes.envelope_sender && !s.masquerade_classes.envelope_recipient);
        assert_eq!(
            s.masquerade_domains,
            [
                (true, "keep.example.com".to_string()),
                (false, "example.com".to_string())
            ]
        );
        assert!(s.propagate_canonical && s.propagate_virtual);
        assert_eq!(s.override_mask, 0);
    }

    #[test]
    fn refused_and_invalid() {
        let cases = [
            (
                "non_smtpd_milters = inet:127.0.0.1:9999\n",
                "milters are not supported",
            ),
            (
                "canonical_classes = envelope_sender, bogus\n",
                "invalid canonical_classes",
            ),
            (
                "receive_override_options = no_such_option\n",
                "invalid receive_override",
            ),
            ("header_from_format = fancy\n", "invalid header_from_format"),
        ];
        for (main, want) in cases {
            let e = Settings::from_config(&cfg(main)).unwrap_err();
            assert!(e.contains(want), "{main}: {e}");
        }
        let s = Settings::from_config(&cfg(
            "receive_override_options = no_address_mappings, no_header_body_checks\n",
        ))
        .unwrap();
        use ipc::cleanup::flags;
        assert_eq!(
            s.override_mask,
            flags::MAP_OK | flags::BCC_OK | flags::FILTER
        );
    }
}
