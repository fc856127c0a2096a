//! A throwaway PostgreSQL for tests: `initdb` into a temporary directory, `pg_ctl start` on a free
//! loopback port, stopped and deleted when dropped. Run as the `postgres` user when the tests run
//! as root (PostgreSQL refuses to run as root). It uses nothing of the crate, so that the
//! integration tests include it too.

use std::path::{Path, PathBuf};
use std::process::Command;

/// How many ports a start tries before it gives up.
const START_ATTEMPTS: u32 = 3;

/// A running PostgreSQL server of its own.
pub(crate) struct TestPostgres {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
}

/// Where PostgreSQL's programs are: `pg_config --bindir` if `initdb` is there, else the newest of
/// Debian's `/usr/lib/postgresql/<version>/bin`.
fn bin_dir() -> PathBuf {
    let from_pg_config = Command::new("pg_config").arg("--bindir").output().ok().filter(|o| o.status.success());
    if let Some(o) = from_pg_config {
        let dir = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    let versions = std::fs::read_dir("/usr/lib/postgresql").expect("PostgreSQL is not installed (no initdb)");
    let mut dirs: Vec<PathBuf> =
        versions.filter_map(|e| Some(e.ok()?.path().join("bin"))).filter(|d| d.join("initdb").exists()).collect();
    dirs.sort_by_key(|d| d.parent().and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok()));
    dirs.pop().expect("PostgreSQL is not installed (no initdb)")
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// Runs one of PostgreSQL's programs, as `postgres` when we are root; its output if it fails.
fn run(bin: &Path, program: &str, args: &[&str]) -> Result<(), String> {
    let path = bin.join(program);
    let mut command = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&path);
        c
    } else {
        Command::new(&path)
    };
    let out = command.args(args).output().map_err(|e| format!("{}: {e}", path.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Err(format!("{program} {args:?} failed: {stdout}{stderr}"))
}

impl TestPostgres {
    /// Starts one; its database `convene` is empty.
    pub(crate) fn start() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let root = std::env::temp_dir().join(format!("convene-pg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&root).unwrap();
        // The server runs as `postgres`: it must be able to make its directories here.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o777)).unwrap();
        let mut pg = Self { root, bin: bin_dir(), port: 0 };
        run(&pg.bin, "initdb", &["-D", &pg.data(), "-A", "trust", "-U", "convene", "--no-sync", "-E", "UTF8"]).unwrap();
        // A free port is chosen right before the start, and another one if the start fails: in a
        // busy test run, the port a probe found free can be taken (by any socket) before
        // PostgreSQL binds it.
        for attempt in 1..=START_ATTEMPTS {
            pg.port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let (options, log) = pg.options();
            match run(&pg.bin, "pg_ctl", &["-D", &pg.data(), "-o", &options, "-l", &log, "-w", "start"]) {
                Ok(()) => break,
                Err(e) if attempt < START_ATTEMPTS => eprintln!("PostgreSQL did not start ({e}); trying another port"),
                Err(e) => panic!("{e}\nits log:\n{}", std::fs::read_to_string(&log).unwrap_or_default()),
            }
        }
        let port = pg.port.to_string();
        run(&pg.bin, "createdb", &["-h", "127.0.0.1", "-p", &port, "-U", "convene", "convene"]).unwrap();
        pg
    }

    /// The connection string of its database.
    pub(crate) fn url(&self) -> String {
        format!("postgres://convene@127.0.0.1:{}/convene", self.port)
    }

    /// A connection, its driving task spawned on the current runtime.
    pub(crate) async fn connect(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        client
    }
}

impl TestPostgres {
    fn data(&self) -> String {
        self.root.join("data").to_string_lossy().into_owned()
    }

    fn options(&self) -> (String, String) {
        let options = format!("-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off", self.port, self.root.display());
        (options, self.root.join("log").to_string_lossy().into_owned())
    }

    /// Stops it at once (`immediate`, as a crash would): every connection drops.
    pub(crate) fn stop(&mut self) {
        run(&self.bin, "pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]).unwrap();
    }

    /// Starts it again after [`TestPostgres::stop`], on the same port, with its data.
    pub(crate) fn start_again(&mut self) {
        let (options, log) = self.options();
        run(&self.bin, "pg_ctl", &["-D", &self.data(), "-o", &options, "-l", &log, "-w", "start"]).unwrap();
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        // The test may have stopped it already; then this fails, harmlessly.
        let _ = run(&self.bin, "pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
