//! proxymap(8) in a running instance: `proxy:` lookups from postmap(1)
//! go through master's proxymap service; unapproved tables are refused;
//! a rebuilt table is noticed; a broken table does not kill the daemon.

use std::time::Duration;

use testkit::{Instance, MINIMAL_MASTER_CF, wait_for};

const T: Duration = Duration::from_secs(10);

fn need_binaries() {
    for b in ["master", "postfix", "postlogd", "proxymap", "postmap"] {
        let p = testkit::bin_dir().join(b);
        assert!(
            p.exists(),
            "{} is missing: build every binary first (scripts/test does)",
            p.display()
        );
    }
}

fn proxymap_pids(inst: &Instance) -> Vec<i32> {
    inst.processes()
        .into_iter()
        .filter(|p| p.program() == "proxymap")
        .map(|p| p.pid)
        .collect()
}

#[test]
fn proxy_lookups_through_proxymap() {
    need_binaries();
    let master_cf = format!(
        "{MINIMAL_MASTER_CF}proxymap  unix  -       -       n       -       -       proxymap\n\
         proxywrite unix -       -       n       -       1       proxymap\n"
    );
    let mut inst = Instance::builder("proxymap").master_cf(&master_cf).build();
    let etc = inst.etc.clone();
    let virt = etc.join("virtual");
    std::fs::write(&virt, "info@example.com joe@example.com\n").unwrap();
    let bad = etc.join("bad.regexp");
    std::fs::write(&bad, "/(/ broken\n/^ok$/ fine\n").unwrap();
    let missing = etc.join("missing");
    // The cache proxywrite keeps, in a directory mail_owner may write.
    let cache_dir = inst.root.join("cache");
    std::fs::create_dir_all(&cache_dir).unwrap();
    if testkit::is_root() {
        let ok = std::process::Command::new("chown")
            .args(["postfix:"])
            .arg(&cache_dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "chown cache directory");
    }
    let cache = format!("btree:{}/verify", cache_dir.display());
    let main = inst.main_cf()
        + &format!(
            "virtual_alias_maps = proxy:hash:{v}\n\
             header_checks = proxy:regexp:{b}\n\
             relocated_maps = proxy:hash:{m}\n\
             proxy_write_maps = {cache}\n",
            v = virt.display(),
            b = bad.display(),
            m = missing.display(),
            cache = cache,
        );
    inst.write_main_cf(&main);
    inst.run("postmap", &[&format!("hash:{}", virt.display())])
        .success();
    inst.start();
    let q = |key: &str, table: &str| inst.run("postmap", &["-q", key, table]);

    // A lookup through proxymap.
    let vt = format!("proxy:hash:{}", virt.display());
    let r = q("INFO@example.com", &vt);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "joe@example.com\n"),
        "{r:?}\n{}",
        inst.log()
    );
    assert_eq!(q("nobody@example.com", &vt).code, 1);
    let first = proxymap_pids(&inst);
    assert!(!first.is_empty(), "proxymap runs");

    // A table that proxy_read_maps does not list is refused.
    let other = etc.join("other");
    std::fs::write(&other, "a b\n").unwrap();
    inst.run("postmap", &[&format!("hash:{}", other.display())])
        .success();
    let r = q("a", &format!("proxy:hash:{}", other.display()));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(&format!(
            "proxymap service is not configured for table \"hash:{}\"",
            other.display()
        )),
        "{r:?}"
    );
    assert!(
        inst.wait_log("request for unapproved table", T),
        "{}",
        inst.log()
    );

    // A table with a bad rule: the rule is reported and skipped, the
    // rest works, the daemon lives on.
    let r = q("ok", &format!("proxy:regexp:{}", bad.display()));
    assert_eq!((r.code, r.stdout.as_str()), (0, "fine\n"), "{r:?}");
    assert!(
        inst.wait_log(
            &format!("regexp map {}, line 1: Unmatched ( or \\(", bad.display()),
            T
        ),
        "{}",
        inst.log()
    );
    // A table that cannot be opened: an error for the client, not the end
    // of the daemon.
    let r = q("x", &format!("proxy:hash:{}", missing.display()));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("open database"), "{r:?}");
    assert_eq!(q("info@example.com", &vt).code, 0);
    let log = inst.log();
    let fatal: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("/proxymap[") && (l.contains("fatal:") || l.contains("panic:")))
        .collect();
    assert!(fatal.is_empty(), "{fatal:?}");

    // A rebuilt table is noticed: proxymap restarts and serves the new one.
    std::fs::write(&virt, "info@example.com ann@example.com\n").unwrap();
    inst.run("postmap", &[&format!("hash:{}", virt.display())])
        .success();
    assert!(
        wait_for(T, || q("info@example.com", &vt).stdout
            == "ann@example.com\n"),
        "{}",
        inst.log()
    );
    assert!(
        inst.wait_log("has changed -- restarting", T),
        "{}",
        inst.log()
    );

    // proxywrite creates and updates a table of proxy_write_maps; the
    // read-only service refuses updates.
    let cfg = config::Config::load(&etc).unwrap();
    let write = maps::OpenFlags {
        write: true,
        ..maps::OpenFlags::default()
    };
    let mut d =
        maps::open(&format!("proxy:{cache}"), &cfg, write).expect("open through proxywrite");
    d.update("User@Example.com", "250 ok").unwrap();
    assert_eq!(
        d.lookup("user@example.com").unwrap().as_deref(),
        Some("250 ok")
    );
    assert!(d.delete("user@example.com").unwrap());
    assert_eq!(d.lookup("user@example.com").unwrap(), None);
    assert!(maps::open(&format!("proxy:{cache}"), &cfg, maps::OpenFlags::default()).is_err());
    inst.stop();
}
