//! A PostgreSQL server of the test's own, which the test may stop and start
//! again: the shared server of `scripts/test-all` (`SESSION_SECURITY_TEST_POSTGRES`)
//! must never go down under other tests, so an outage needs a server that
//! nobody else uses.
//!
//! Needs Debian's `postgresql` package (binaries under
//! `/usr/lib/postgresql/<version>/bin`, or the directory in
//! `SESSION_SECURITY_PG_BIN`). The tests that use it are `#[ignore]`d with
//! that reason and run with `--include-ignored`; a missing server is then a
//! failure.

#![allow(dead_code)] // each test binary uses a different part

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Seconds any one PostgreSQL command may take before it counts as hung.
const COMMAND_TIMEOUT: &str = "30";
/// How long `stop` and `restart` wait for the port to refuse or accept.
const PORT_WAIT: Duration = Duration::from_secs(15);
/// Ports tried before giving up: another test process may hold some.
const PORT_ATTEMPTS: u32 = 12;

/// A throwaway PostgreSQL server of its own on 127.0.0.1, for tests that
/// stop and restart it.
pub struct PgServer {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// Whether the server should be up: `Drop` stops only a running one.
    running: AtomicBool,
}

impl PgServer {
    /// Starts a new server: `initdb` into a fresh directory owned by
    /// `postgres` (PostgreSQL refuses to run as root, and the tests run as
    /// root), then `pg_ctl start` on a free port below the ephemeral range
    /// (ports in that range may be held by TIME-WAIT connections), its
    /// socket in the data directory and `fsync=off` (nothing here must
    /// survive a power loss). Panics when PostgreSQL is not installed.
    pub fn start() -> Option<PgServer> {
        // The tests that start a server are `#[ignore]`d with this reason,
        // so they run only when asked for; then missing binaries fail.
        let Some(bin) = binaries() else {
            panic!(
                "PostgreSQL's initdb and pg_ctl were not found under \
                 /usr/lib/postgresql/*/bin or SESSION_SECURITY_PG_BIN (apt-get install postgresql)"
            );
        };
        let dir = fresh_dir();
        let initdb = as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(&dir)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8"])
            .args(["--locale=C.UTF-8", "--no-sync"])
            .output();
        check(initdb, "initdb", &dir);

        let mut server = PgServer {
            bin,
            dir,
            port: 0,
            running: AtomicBool::new(false),
        };
        for port in candidate_ports() {
            server.port = port;
            if server.pg_ctl_start() {
                server.running.store(true, Ordering::SeqCst);
                server.wait_for_port(true);
                return Some(server);
            }
        }
        panic!(
            "could not start PostgreSQL on 127.0.0.1 in {PORT_ATTEMPTS} attempts; its log:\n{}",
            server.log()
        );
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`: trust authentication,
    /// the default database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// An outage, not a polite shutdown: `pg_ctl stop -m immediate` drops
    /// every connection at once, as a crash or a lost network would. Returns
    /// once the port refuses connections.
    pub fn stop(&self) {
        let stopped = self.pg_ctl_stop();
        assert!(
            stopped,
            "pg_ctl stop failed; PostgreSQL's log:\n{}",
            self.log()
        );
        self.running.store(false, Ordering::SeqCst);
        self.wait_for_port(false);
    }

    /// Starts the same data directory again on the same port (the
    /// application's pool reconnects to the URL it was given) and returns
    /// once it accepts connections.
    pub fn restart(&self) {
        let started = self.pg_ctl_start();
        assert!(
            started,
            "PostgreSQL did not start again on port {}; its log:\n{}",
            self.port,
            self.log()
        );
        self.running.store(true, Ordering::SeqCst);
        self.wait_for_port(true);
    }

    /// `pg_ctl start -w`: true once the server accepts connections.
    fn pg_ctl_start(&self) -> bool {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off",
            self.port,
            self.dir.display()
        );
        let output = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.dir)
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "20", "-o", &options, "start"])
            .output();
        matches!(output, Ok(ref out) if out.status.success())
    }

    fn pg_ctl_stop(&self) -> bool {
        let output = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.dir)
            .args(["-m", "immediate", "-w", "-t", "20", "stop"])
            .output();
        matches!(output, Ok(ref out) if out.status.success())
    }

    /// Waits until the port accepts (`up`) or refuses connections: pg_ctl's
    /// own wait watches the pid file and the socket, not the TCP port the
    /// application uses.
    fn wait_for_port(&self, up: bool) {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let started = Instant::now();
        while started.elapsed() < PORT_WAIT {
            let accepts = TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_ok();
            if accepts == up {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "PostgreSQL's port {} still {} after {PORT_WAIT:?}; its log:\n{}",
            self.port,
            if up {
                "refuses connections"
            } else {
                "accepts connections"
            },
            self.log()
        );
    }

    /// The server's log, for failure messages.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if self.running.load(Ordering::SeqCst) {
            let _ = self.pg_ctl_stop();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The directory with `initdb` and `pg_ctl`: `SESSION_SECURITY_PG_BIN`, or
/// the highest version under `/usr/lib/postgresql`.
fn binaries() -> Option<PathBuf> {
    let usable = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("SESSION_SECURITY_PG_BIN") {
        let dir = PathBuf::from(dir);
        return usable(&dir).then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            // "15", "16": numbers, so that 10 sorts after 9.
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            usable(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Whether this process runs as root: `/proc/self` belongs to the
/// process's effective user.
fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// `program` under `timeout`, as the `postgres` user when we are root
/// (initdb and the server refuse root); as ourselves otherwise.
fn as_postgres(program: &Path) -> Command {
    let mut command = Command::new("timeout");
    command.arg(COMMAND_TIMEOUT);
    if is_root() {
        command.args(["runuser", "-u", "postgres", "--"]);
    }
    command.arg(program);
    command
}

/// Panics with the command's output unless it succeeded.
fn check(output: std::io::Result<Output>, what: &str, dir: &Path) {
    match output {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "{what} in {} failed ({}):\n{}{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("could not run {what} (timeout, runuser): {e}"),
    }
}

/// A new empty directory for the data, owned by `postgres` when we are
/// root: initdb wants to own it and sets its mode to 0700 itself.
fn fresh_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ss_pg_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    ));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("could not create {}: {e}", dir.display()));
    if is_root() {
        let chown = Command::new("timeout")
            .args([COMMAND_TIMEOUT, "chown", "postgres:postgres"])
            .arg(&dir)
            .output();
        check(chown, "chown postgres:postgres", &dir);
    }
    dir
}

/// Free ports between 20000 and 32767, different for each process and
/// server (the pid and a counter spread them), so that parallel tests and
/// `scripts/test-all`'s own server (25432 and up) rarely meet; a port
/// found free may still be taken before PostgreSQL binds it, hence several.
fn candidate_ports() -> impl Iterator<Item = u16> {
    static N: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id()
        .wrapping_mul(7919)
        .wrapping_add(N.fetch_add(1, Ordering::SeqCst).wrapping_mul(104_729))
        .wrapping_add(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_micros()),
        );
    (0..PORT_ATTEMPTS * 4)
        .map(move |i| 20000 + (seed.wrapping_add(i.wrapping_mul(1291)) % 12768) as u16)
        .filter(|port| TcpListener::bind((Ipv4Addr::LOCALHOST, *port)).is_ok())
        .take(PORT_ATTEMPTS as usize)
}
