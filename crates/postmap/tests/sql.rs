//! SQL tables against real servers: a private MariaDB and a private
//! PostgreSQL, each initialized in a temporary directory and listening on
//! a loopback port, loaded with the virtual-hosting schema Postfix users
//! deploy (domains, forwardings, users, transport). The servers are
//! stopped by PID and their directories removed when the test ends,
//! also when it fails.
//!
//! Where Postfix's own postmap is installed with the mysql/pgsql/sqlite
//! plugins, our `postmap -q` must answer exactly as it does.
//!
//! Set `MTA_TEST_SKIP_SQL_SERVERS=1` to skip the MariaDB and PostgreSQL
//! parts on a machine without the servers; without it a missing server
//! fails the test (.ci/run installs them).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use maps::{MapError, OpenFlags};

fn skip_servers() -> bool {
    std::env::var_os("MTA_TEST_SKIP_SQL_SERVERS").is_some_and(|v| v == "1")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A port nobody listens on (bound, then released).
fn dead_port() -> u16 {
    free_port()
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn find_program(names: &[&str], dirs: &[&str]) -> Option<PathBuf> {
    for d in dirs {
        for n in names {
            let p = Path::new(d).join(n);
            if p.exists() {
                return Some(p);
            }
        }
    }
    // PostgreSQL's versioned directories.
    if let Ok(rd) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut vers: Vec<PathBuf> = rd.flatten().map(|e| e.path().join("bin")).collect();
        vers.sort();
        for v in vers.iter().rev() {
            for n in names {
                if v.join(n).exists() {
                    return Some(v.join(n));
                }
            }
        }
    }
    None
}

/// A temporary directory and a server process, both gone on drop.
struct Server {
    dir: PathBuf,
    child: Option<Child>,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(c.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let until = Instant::now() + Duration::from_secs(15);
            loop {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                if Instant::now() > until {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mta-sql-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn wait_port(port: u16, what: &str, log: &Path) {
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "{what} did not come up on port {port}:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

fn run_ok(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const SCHEMA: &str = "
CREATE TABLE domains (domain varchar(50) NOT NULL PRIMARY KEY);
CREATE TABLE forwardings (source varchar(80) NOT NULL PRIMARY KEY, destination TEXT NOT NULL);
CREATE TABLE users (email varchar(80) NOT NULL PRIMARY KEY, password varchar(128) NOT NULL, quota INT NOT NULL DEFAULT 10485760);
CREATE TABLE transport (domain varchar(128) NOT NULL PRIMARY KEY, transport varchar(128) NOT NULL);
INSERT INTO domains VALUES ('example.com'), ('example.org');
INSERT INTO forwardings VALUES ('info@example.com', 'joe@example.com'),
  ('sales@example.com', 'joe@example.com,ann@example.org'),
  ('@example.org', 'catchall@example.com'),
  ('o''neil@example.com', 'quoted@example.com');
INSERT INTO users VALUES ('joe@example.com', 'x', 1000), ('ann@example.org', 'y', 2000);
INSERT INTO transport VALUES ('example.com', 'virtual:'), ('relay.example', 'smtp:[mx.relay.example]');
";

fn start_mariadb() -> Server {
    let install = find_program(
        &["mariadb-install-db", "mysql_install_db"],
        &["/usr/bin", "/usr/sbin", "/usr/local/bin"],
    )
    .expect("mariadb-install-db not found: install mariadb-server (.ci/run does), or set MTA_TEST_SKIP_SQL_SERVERS=1");
    let server = find_program(
        &["mariadbd", "mysqld"],
        &["/usr/sbin", "/usr/bin", "/usr/local/bin"],
    )
    .expect("mariadbd not found: install mariadb-server, or set MTA_TEST_SKIP_SQL_SERVERS=1");
    let client = find_program(&["mariadb", "mysql"], &["/usr/bin", "/usr/local/bin"])
        .expect("mariadb client not found");
    let dir = temp_dir("mariadb");
    let data = dir.join("data");
    let mut srv = Server {
        dir: dir.clone(),
        child: None,
        port: free_port(),
    };
    let user = if is_root() {
        vec!["--user=root"]
    } else {
        vec![]
    };
    run_ok(
        Command::new(&install)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db")
            .args(&user),
        "mariadb-install-db",
    );
    let log = dir.join("server.log");
    let child = Command::new(&server)
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={}", dir.join("sock").display()))
        .arg(format!("--port={}", srv.port))
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--pid-file={}", dir.join("pid").display()))
        .arg("--skip-log-bin")
        .arg("--skip-name-resolve")
        .arg("--innodb-buffer-pool-size=16M")
        .args(&user)
        .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("server.err")).unwrap(),
        ))
        .spawn()
        .expect("start mariadbd");
    srv.child = Some(child);
    wait_port(srv.port, "mariadbd", &dir.join("server.err"));
    let sql = format!(
        "CREATE DATABASE mail; CREATE USER 'postfix'@'127.0.0.1' IDENTIFIED BY 'secret';
         GRANT SELECT ON mail.* TO 'postfix'@'127.0.0.1'; USE mail; {SCHEMA}"
    );
    run_ok(
        Command::new(&client)
            .args(["--no-defaults", "-h", "127.0.0.1", "-u", "root"])
            .arg(format!("-P{}", srv.port))
            .args(["-e", &sql]),
        "load MariaDB schema",
    );
    srv
}

/// A command run as PostgreSQL's user when the test runs as root
/// (PostgreSQL refuses to run as root).
fn pg_command(program: &Path) -> Command {
    if is_root() {
        let id = pg_user();
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", id.uid))
            .arg(format!("--regid={}", id.gid))
            .arg("--clear-groups")
            .arg("--")
            .arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn pg_user() -> nix::unistd::User {
    nix::unistd::User::from_name("postgres")
        .ok()
        .flatten()
        .or_else(|| nix::unistd::User::from_name("nobody").ok().flatten())
        .expect("a postgres or nobody user")
}

/// Ends a server-side session, as an idle timeout or a restart would.
fn kill_session(kind: &str, srv: &Server, id: &str) {
    if kind == "mysql" {
        let client = find_program(&["mariadb", "mysql"], &["/usr/bin", "/usr/local/bin"]).unwrap();
        run_ok(
            Command::new(client)
                .args(["--no-defaults", "-h", "127.0.0.1", "-u", "root"])
                .arg(format!("-P{}", srv.port))
                .args(["-e", &format!("KILL {id}")]),
            "KILL",
        );
    } else {
        let psql = find_program(&["psql"], &["/usr/bin", "/usr/local/bin"]).unwrap();
        run_ok(
            pg_command(&psql)
                .arg("-h")
                .arg(&srv.dir)
                .args([
                    "-p",
                    &srv.port.to_string(),
                    "-U",
                    "admin",
                    "-d",
                    "postgres",
                    "-c",
                ])
                .arg(format!("SELECT pg_terminate_backend({id})")),
            "pg_terminate_backend",
        );
    }
}

fn start_postgres() -> Server {
    let initdb = find_program(&["initdb"], &["/usr/local/bin", "/usr/bin"]).expect(
        "initdb not found: install postgresql (.ci/run does), or set MTA_TEST_SKIP_SQL_SERVERS=1",
    );
    let postgres = initdb.with_file_name("postgres");
    let postgres = if postgres.exists() {
        postgres
    } else {
        find_program(&["postgres"], &["/usr/local/bin", "/usr/bin"]).expect("postgres not found")
    };
    let psql = find_program(&["psql"], &["/usr/bin", "/usr/local/bin"]).expect("psql not found");
    let dir = temp_dir("pgsql");
    let as_user = pg_command;
    if is_root() {
        let id = pg_user();
        nix::unistd::chown(&dir, Some(id.uid), Some(id.gid)).unwrap();
    }
    let mut srv = Server {
        dir: dir.clone(),
        child: None,
        port: free_port(),
    };
    let pwfile = dir.join("pw");
    std::fs::write(&pwfile, "adminpw\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pwfile, std::fs::Permissions::from_mode(0o644)).unwrap();
    run_ok(
        as_user(&initdb)
            .arg("-D")
            .arg(dir.join("data"))
            .args([
                "-U",
                "admin",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(["-E", "UTF8", "--no-sync"]),
        "initdb",
    );
    let err = dir.join("server.err");
    let child = as_user(&postgres)
        .arg("-D")
        .arg(dir.join("data"))
        .arg("-p")
        .arg(srv.port.to_string())
        .arg("-k")
        .arg(&dir)
        .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
        .spawn()
        .expect("start postgres");
    srv.child = Some(child);
    wait_port(srv.port, "postgres", &err);
    let sql = format!(
        "CREATE USER postfix PASSWORD 'secret'; CREATE DATABASE mail OWNER postfix;
         \\c mail postfix
         {SCHEMA}"
    );
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let out = as_user(&psql)
            .args(["-v", "ON_ERROR_STOP=1", "-q", "-h"])
            .arg(&dir)
            .args([
                "-p",
                &srv.port.to_string(),
                "-U",
                "admin",
                "-d",
                "postgres",
                "-c",
                "SELECT 1",
            ])
            .output()
            .unwrap();
        if out.status.success() || Instant::now() > until {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let script = dir.join("schema.sql");
    std::fs::write(&script, sql).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    run_ok(
        as_user(&psql)
            .args(["-v", "ON_ERROR_STOP=1", "-q", "-h"])
            .arg(&dir)
            .args([
                "-p",
                &srv.port.to_string(),
                "-U",
                "admin",
                "-d",
                "postgres",
                "-f",
            ])
            .arg(&script),
        "load PostgreSQL schema",
    );
    srv
}

/// Table files for a server; `hosts` is the `hosts =` line.
fn write_tables(dir: &Path, kind: &str, hosts: &str) -> Vec<(&'static str, PathBuf)> {
    let conn = match kind {
        "sqlite" => format!("dbpath = {}/mail.sqlite\n", dir.display()),
        _ => format!("hosts = {hosts}\nuser = postfix\npassword = secret\ndbname = mail\n"),
    };
    let mailbox = match kind {
        "mysql" => {
            "query = SELECT CONCAT(SUBSTRING_INDEX(email, '@', -1), '/', SUBSTRING_INDEX(email, '@', 1), '/') FROM users WHERE email = '%s'\n"
        }
        "pgsql" => {
            "query = SELECT split_part(email, '@', 2) || '/' || split_part(email, '@', 1) || '/' FROM users WHERE email = '%s'\n"
        }
        _ => {
            "query = SELECT substr(email, instr(email, '@') + 1) || '/' || substr(email, 1, instr(email, '@') - 1) || '/' FROM users WHERE email = '%s'\n"
        }
    };
    let tables: Vec<(&'static str, String)> = vec![
        ("domains", "query = SELECT domain FROM domains WHERE domain = '%s'\n".into()),
        ("forwardings", "query = SELECT destination FROM forwardings WHERE source = '%s'\n".into()),
        ("mailboxes", mailbox.into()),
        (
            "mailboxes-format",
            "query = SELECT email FROM users WHERE email = '%s'\nresult_format = %d/%u/\n".into(),
        ),
        ("transport", "query = SELECT transport FROM transport WHERE domain = '%s'\n".into()),
        (
            "users-all",
            "query = SELECT email FROM users WHERE '%s' = 'all' ORDER BY email\n".into(),
        ),
        (
            "users-limit",
            "query = SELECT email FROM users WHERE '%s' = 'all' ORDER BY email\nexpansion_limit = 1\n".into(),
        ),
        (
            "forwardings-domain",
            "query = SELECT destination FROM forwardings WHERE source = '%s'\ndomain = example.com\n".into(),
        ),
        (
            "quota",
            "query = SELECT quota FROM users WHERE email = '%u@%d'\nresult_format = quota=%s for %U at %D\n".into(),
        ),
    ];
    tables
        .into_iter()
        .map(|(name, q)| {
            let p = dir.join(format!("{kind}-{name}.cf"));
            std::fs::write(&p, format!("{conn}{q}")).unwrap();
            (name, p)
        })
        .collect()
}

fn cfg(dir: &Path) -> config::Config {
    config::Config::from_text(dir, "").unwrap()
}

fn lookup(kind: &str, file: &Path, key: &str) -> Result<Option<String>, MapError> {
    let spec = format!("{kind}:{}", file.display());
    let mut d = maps::open(&spec, &cfg(file.parent().unwrap()), OpenFlags::default())?;
    d.lookup(key)
}

const KEYS: &[(&str, &str)] = &[
    ("domains", "example.com"),
    ("domains", "EXAMPLE.ORG"),
    ("domains", "nowhere.example"),
    ("forwardings", "info@example.com"),
    ("forwardings", "sales@example.com"),
    ("forwardings", "@example.org"),
    ("forwardings", "o'neil@example.com"),
    ("forwardings", "x' OR '1'='1"),
    ("mailboxes", "joe@example.com"),
    ("mailboxes", "nobody@example.com"),
    ("mailboxes-format", "ann@example.org"),
    ("transport", "example.com"),
    ("transport", "relay.example"),
    ("users-all", "all"),
    ("forwardings-domain", "info@example.com"),
    ("forwardings-domain", "@example.org"),
    ("forwardings-domain", "info"),
    ("quota", "joe@example.com"),
    ("quota", "joe"),
];

/// Our answers, checked against the expected values.
fn check_answers(kind: &str, tables: &[(&'static str, PathBuf)]) {
    let t = |name: &str| &tables.iter().find(|(n, _)| *n == name).unwrap().1;
    let expect: &[(&str, &str, Option<&str>)] = &[
        ("domains", "example.com", Some("example.com")),
        ("domains", "EXAMPLE.ORG", Some("example.org")),
        ("domains", "nowhere.example", None),
        ("forwardings", "info@example.com", Some("joe@example.com")),
        (
            "forwardings",
            "sales@example.com",
            Some("joe@example.com,ann@example.org"),
        ),
        ("forwardings", "@example.org", Some("catchall@example.com")),
        (
            "forwardings",
            "o'neil@example.com",
            Some("quoted@example.com"),
        ),
        ("forwardings", "x' OR '1'='1", None),
        ("mailboxes", "joe@example.com", Some("example.com/joe/")),
        ("mailboxes", "nobody@example.com", None),
        (
            "mailboxes-format",
            "ann@example.org",
            Some("example.org/ann/"),
        ),
        ("transport", "example.com", Some("virtual:")),
        (
            "transport",
            "relay.example",
            Some("smtp:[mx.relay.example]"),
        ),
        ("users-all", "all", Some("ann@example.org,joe@example.com")),
        (
            "forwardings-domain",
            "info@example.com",
            Some("joe@example.com"),
        ),
        ("forwardings-domain", "@example.org", None),
        ("forwardings-domain", "info", None),
        (
            "quota",
            "joe@example.com",
            Some("quota=1000 for joe at example.com"),
        ),
        ("quota", "joe", None),
    ];
    for (table, key, want) in expect {
        let got =
            lookup(kind, t(table), key).unwrap_or_else(|e| panic!("{kind} {table} {key}: {e}"));
        assert_eq!(got.as_deref(), *want, "{kind}:{table} key {key}");
    }
    // More results than expansion_limit: a temporary failure.
    match lookup(kind, t("users-limit"), "all") {
        Err(MapError::Temp { .. }) => {}
        other => panic!("{kind}: expansion_limit: {other:?}"),
    }
}

/// Our postmap -q against Postfix's, where Postfix has the plugin.
fn compare_with_postfix(kind: &str, dir: &Path, tables: &[(&'static str, PathBuf)]) {
    let postfix = Path::new("/usr/sbin/postmap");
    let conf = dir.join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(conf.join("main.cf"), "").unwrap();
    let has = postfix.exists()
        && Command::new("/usr/sbin/postconf")
            .args(["-c"])
            .arg(&conf)
            .arg("-m")
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .any(|l| l == kind)
            })
            .unwrap_or(false);
    if !has {
        eprintln!("note: Postfix's postmap with {kind} support is not installed: no comparison");
        return;
    }
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_postmap"));
    let t = |name: &str| tables.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    for (table, key) in KEYS {
        let spec = format!("{kind}:{}", t(table).display());
        let run = |p: &Path| {
            let o = Command::new(p)
                .arg("-c")
                .arg(&conf)
                .args(["-q", key, &spec])
                .output()
                .unwrap();
            (
                o.status.code(),
                String::from_utf8_lossy(&o.stdout).into_owned(),
            )
        };
        assert_eq!(run(&ours), run(postfix), "postmap -q '{key}' {spec}");
    }
}

fn exercise_server(kind: &str, srv: &Server) {
    let dir = srv.dir.join("tables");
    std::fs::create_dir_all(&dir).unwrap();
    let live = format!("inet:127.0.0.1:{}", srv.port);
    let tables = write_tables(&dir, kind, &live);
    check_answers(kind, &tables);
    compare_with_postfix(kind, &dir, &tables);

    // Failover: a dead host in front of the live one.
    let fo = dir.join("failover");
    std::fs::create_dir_all(&fo).unwrap();
    let hosts = format!("inet:127.0.0.1:{} {live}", dead_port());
    let tables = write_tables(&fo, kind, &hosts);
    for _ in 0..3 {
        let got = lookup(kind, &tables[1].1, "info@example.com").unwrap();
        assert_eq!(got.as_deref(), Some("joe@example.com"));
    }

    // An unreachable server is a temporary failure, never "not found".
    let down = dir.join("down");
    std::fs::create_dir_all(&down).unwrap();
    let tables = write_tables(&down, kind, &format!("inet:127.0.0.1:{}", dead_port()));
    match lookup(kind, &tables[1].1, "info@example.com") {
        Err(MapError::Temp { .. }) => {}
        other => panic!("{kind}: unreachable server gave {other:?}"),
    }
    let o = Command::new(env!("CARGO_BIN_EXE_postmap"))
        .arg("-c")
        .arg(&srv.dir)
        .args(["-q", "info@example.com"])
        .arg(format!("{kind}:{}", tables[1].1.display()))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));

    // One connection serves many lookups.
    let reuse = dir.join("reuse.cf");
    let q = match kind {
        "mysql" => "SELECT CONNECTION_ID() FROM DUAL WHERE '%s' <> ''",
        _ => "SELECT pg_backend_pid() WHERE '%s' <> ''",
    };
    std::fs::write(
        &reuse,
        format!("hosts = {live}\nuser = postfix\npassword = secret\ndbname = mail\nquery = {q}\n"),
    )
    .unwrap();
    let spec = format!("{kind}:{}", reuse.display());
    let mut d = maps::open(&spec, &cfg(&dir), OpenFlags::default()).unwrap();
    let a = d.lookup("x").unwrap();
    let b = d.lookup("y").unwrap();
    assert!(a.is_some());
    assert_eq!(a, b, "{kind}: the connection was not reused");
    // The server ends the session (idle timeout, restart): the next
    // lookup reconnects instead of failing.
    kill_session(kind, srv, a.as_deref().unwrap());
    let c = d
        .lookup("z")
        .expect("reconnect after the server closed the session");
    assert!(c.is_some() && c != a, "{kind}: {a:?} then {c:?}");
}

#[test]
fn mysql_tables_on_mariadb() {
    if skip_servers() {
        eprintln!("MTA_TEST_SKIP_SQL_SERVERS=1: MariaDB part skipped");
        return;
    }
    let srv = start_mariadb();
    exercise_server("mysql", &srv);
}

#[test]
fn pgsql_tables_on_postgresql() {
    if skip_servers() {
        eprintln!("MTA_TEST_SKIP_SQL_SERVERS=1: PostgreSQL part skipped");
        return;
    }
    let srv = start_postgres();
    exercise_server("pgsql", &srv);
}

#[test]
fn sqlite_tables() {
    let dir = temp_dir("sqlite");
    let _cleanup = Server {
        dir: dir.clone(),
        child: None,
        port: 0,
    };
    create_sqlite_db(&dir.join("mail.sqlite"));
    let tables = write_tables(&dir, "sqlite", "");
    check_answers("sqlite", &tables);
    compare_with_postfix("sqlite", &dir, &tables);
    // A database file that is not there: the lookup fails, temporarily.
    let missing = dir.join("missing.cf");
    std::fs::write(
        &missing,
        "dbpath = /nonexistent/x.sqlite\nquery = SELECT 1 WHERE '%s' <> ''\n",
    )
    .unwrap();
    assert!(matches!(
        lookup("sqlite", &missing, "k"),
        Err(MapError::Temp { .. })
    ));
}

/// Loads the schema into a new SQLite file with the sqlite3 shell.
fn create_sqlite_db(path: &Path) {
    let sqlite = find_program(&["sqlite3"], &["/usr/bin", "/usr/local/bin"])
        .expect("sqlite3 not found: install sqlite3 (.ci/run does)");
    let mut c = Command::new(sqlite);
    c.arg(path).stdin(Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(SCHEMA.replace("varchar(50)", "TEXT").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}
