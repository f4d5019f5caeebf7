//! # NAME
//! instance — main.cf and master.cf of one configuration directory, checked
//!
//! ## SYNOPSIS
//! ```ignore
//! let (cfg, services) = config::instance::load_checked(dir)?;
//! ```
//!
//! ## DESCRIPTION
//! What master(8) and `postfix check` need before they run anything: both
//! files parsed, the per-transport parameters of master.cf made known, and
//! every value that main.cf sets, and that each service's `-o` settings
//! set, expanded and checked against its type. All problems are returned
//! together, each naming its file and line.
//!
//! ## SEE ALSO
//! [`crate::Config::check`], [`crate::master_cf`]

use std::path::Path;

use crate::{Config, Service};

/// Loads and checks `dir/main.cf` and `dir/master.cf`.
pub fn load_checked(dir: &Path) -> Result<(Config, Vec<Service>), Vec<String>> {
    let mut cfg = Config::load(dir).map_err(|e| vec![e.to_string()])?;
    let master_cf = dir.join("master.cf");
    let text = std::fs::read_to_string(&master_cf).map_err(|e| vec![format!("open {}: {}", master_cf.display(), e)])?;
    let services = crate::master_cf::parse(&text, &master_cf).map_err(|e| vec![e.to_string()])?;
    cfg.set_services(&services);
    let mut errors: Vec<String> = cfg.check().iter().map(ToString::to_string).collect();
    for s in services.iter().filter(|s| !s.overrides.is_empty()) {
        let mut scfg = Config::load(dir).map_err(|e| vec![e.to_string()])?;
        scfg.set_services(&services);
        scfg.set_override("service_name", &s.name);
        for (n, v) in &s.overrides {
            scfg.set_override(n, v);
        }
        for e in scfg.check_overrides() {
            errors.push(format!("{}, line {}: service {}: {}", master_cf.display(), s.line, s.id(), e));
        }
    }
    if errors.is_empty() { Ok((cfg, services)) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(main: &str, master: &str) -> std::path::PathBuf {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let d = std::env::temp_dir().join(format!("config-instance-{}-{}", std::process::id(), n));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("main.cf"), main).unwrap();
        std::fs::write(d.join("master.cf"), master).unwrap();
        d
    }

    #[test]
    fn reports_every_problem() {
        let d = dir_with("max_use = x\n", "smtp inet n - n - - smtpd -o max_idle=5q -o smtpd_banner=ok\n");
        let errs = load_checked(&d).unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].contains("main.cf, line 1: bad numerical configuration: max_use = x"));
        assert!(errs[1].contains("master.cf, line 1: service smtp/inet: -o max_idle: bad time configuration: max_idle = 5q"));
        let d2 = dir_with("", "smtp inet n - n - - smtpd\n");
        assert!(load_checked(&d2).is_ok());
        std::fs::remove_dir_all(&d).unwrap();
        std::fs::remove_dir_all(&d2).unwrap();
    }
}
