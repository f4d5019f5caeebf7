//! # NAME
//! starttls — TLS in the SMTP session (RFC 3207)
//!
//! ## DESCRIPTION
//! With `smtpd_tls_security_level = may` (or `smtpd_use_tls = yes`)
//! EHLO offers STARTTLS; with `encrypt` (or `smtpd_enforce_tls = yes`)
//! the client must use it before anything but EHLO, HELO, NOOP and QUIT
//! (`530 5.7.0 Must issue a STARTTLS command first`). After the
//! handshake the session starts over: the HELO name and any mail
//! transaction are forgotten, as RFC 3207 requires. In wrapper mode
//! (`smtpd_tls_wrappermode = yes`, the stock master.cf's submissions
//! service on port 465) the handshake comes before the greeting.
//!
//! When the certificate could not be loaded, STARTTLS answers `454 4.7.0
//! TLS not available due to local problem`; a server that requires TLS
//! then receives no mail at all rather than mail in the clear. Client
//! certificates are not asked for (`smtpd_tls_req_ccert = yes` is refused
//! at startup). Replies and log lines are Postfix 3.7's; the log line of
//! a session needs `smtpd_tls_loglevel` 1 or more.
//!
//! ## SEE ALSO
//! smtpd(8), RFC 3207, [`crate::chat::Chat::start_tls`], [`tls::server`]

use daemon::info;
use proto::smtp::Command;

use crate::session::{Flow, Session, r};
use crate::settings::TlsLevel;

impl Session<'_> {
    /// Whether EHLO offers STARTTLS.
    pub(crate) fn offers_starttls(&self) -> bool {
        self.s.tls.level != TlsLevel::None && self.chat.tls().is_none()
    }

    /// The reply for a command that needs TLS first, if this one does.
    pub(crate) fn needs_tls_first(&self, cmd: &Command) -> bool {
        self.s.tls.level == TlsLevel::Encrypt
            && self.chat.tls().is_none()
            && !matches!(
                cmd,
                Command::Helo(_)
                    | Command::Ehlo(_)
                    | Command::StartTls
                    | Command::Noop
                    | Command::Quit
                    // Unknown to us either way.
                    | Command::Help
                    | Command::Expn(_)
                    | Command::Xclient(_)
                    | Command::Xforward(_)
            )
    }

    /// Refuses a command that needs TLS first (a BDAT chunk is read and
    /// dropped, so that its bytes are not taken for commands).
    pub(crate) fn tls_first(&mut self, cmd: Command) -> Flow {
        let (name, last) = match &cmd {
            Command::Mail(_) => ("mail", "MAIL"),
            Command::Rcpt(_) => ("rcpt", "RCPT"),
            Command::Data => ("data", "DATA"),
            Command::Bdat { .. } => ("bdat", "BDAT"),
            Command::Rset => ("rset", "RSET"),
            Command::Vrfy(_) => ("vrfy", "VRFY"),
            Command::Etrn(_) => ("etrn", "ETRN"),
            Command::Auth { .. } => ("auth", "AUTH"),
            _ => ("unknown", "UNKNOWN"),
        };
        self.last_command = last;
        if let Command::Bdat { size, .. } = cmd
            && !self.skip_chunk(size)
        {
            self.count(name, false);
            return Flow::Close;
        }
        self.count(name, false);
        self.flow(r(530, "5.7.0", "Must issue a STARTTLS command first"))
    }

    pub(crate) fn starttls(&mut self) -> Flow {
        self.last_command = "STARTTLS";
        if self.s.tls.level == TlsLevel::None {
            self.count("starttls", false);
            return self.flow(r(502, "5.5.1", "Error: command not implemented"));
        }
        if self.chat.tls().is_some() {
            self.count("starttls", false);
            return self.flow(r(554, "5.5.1", "Error: TLS already active"));
        }
        let Some(config) = self.s.tls.config.clone() else {
            self.count("starttls", false);
            return self.flow(r(454, "4.7.0", "TLS not available due to local problem"));
        };
        self.chat.reply(&r(220, "2.0.0", "Ready to start TLS"));
        if !self.handshake(config) {
            self.count("starttls", false);
            return Flow::Close;
        }
        self.count("starttls", true);
        // RFC 3207: forget everything learned before the handshake.
        self.helo = None;
        self.esmtp = false;
        self.txn = None;
        self.bdat = None;
        Flow::Continue
    }

    /// Wrapper mode: the handshake before the greeting. False when the
    /// session must end.
    pub(crate) fn wrapper_handshake(&mut self) -> bool {
        if !self.s.tls.wrapper {
            return true;
        }
        match self.s.tls.config.clone() {
            Some(config) => self.handshake(config),
            None => {
                info!(
                    "TLS wrapper mode without a certificate: disconnecting {}",
                    self.peer.namaddr()
                );
                false
            }
        }
    }

    fn handshake(&mut self, config: std::sync::Arc<rustls::ServerConfig>) -> bool {
        let timeout = self.s.tls.handshake_timeout;
        match self.chat.start_tls(config, timeout) {
            Ok(()) => {
                if self.s.tls.loglevel >= 1
                    && let Some(conn) = self.chat.tls()
                {
                    info!(
                        "Anonymous TLS connection established from {}: {}",
                        self.peer.namaddr(),
                        tls::server::summary(conn)
                    );
                }
                true
            }
            Err(e) => {
                info!(
                    "SSL_accept error from {}: {}",
                    self.peer.namaddr(),
                    daemon::Untrusted(&e)
                );
                info!(
                    "lost connection after {} from {}",
                    self.last_command,
                    self.peer.namaddr()
                );
                false
            }
        }
    }
}
