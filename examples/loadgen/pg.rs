//! A throwaway PostgreSQL cluster of the load generator's own, started as `.ci/postgres`
//! starts one: `initdb` into a fresh temp dir, run as the user `postgres` (through `runuser`)
//! when we are root, on a free loopback port with its socket in that dir, fsync off. It never
//! touches `/tmp/twostep-pg.dir` (that is `.ci/postgres`'s cluster). Dropping it stops the
//! server and deletes the dir, on error too.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::Result;

/// The newest PostgreSQL's `bin` dir under `/usr/lib/postgresql` (Debian's layout), if one
/// is installed.
pub(crate) fn bindir() -> Option<PathBuf> {
    let mut found: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name().into_string().ok()?;
            let version = name
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<Vec<u32>>>()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// Whether this process runs as root (PostgreSQL refuses to, so it runs as `postgres`).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().next().map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// `program args…`, as the user `postgres` when we are root.
fn as_postgres(program: &Path, args: &[&str]) -> std::process::Command {
    let mut command = if is_root() {
        let mut command = std::process::Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        std::process::Command::new(program)
    };
    command.args(args);
    command
}

/// Runs `command` to its end; its output becomes the error if it fails.
async fn run(command: std::process::Command, what: &str) -> Result<()> {
    let mut command = tokio::process::Command::from(command);
    command.stdin(Stdio::null());
    let output = command
        .output()
        .await
        .map_err(|error| format!("{what}: {error}"))?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    let tail: Vec<&str> = text.lines().rev().take(8).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(format!("{what} failed ({}): {}", output.status, tail.join(" | ")).into())
}

/// A running cluster with one database, `twostep`.
#[derive(Debug)]
pub(crate) struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    /// Whether `pg_stat_statements` is loaded (the query counts of scenario 6).
    pub(crate) statements: bool,
}

impl Cluster {
    /// Starts a fresh cluster from `bin`.
    pub(crate) async fn start(bin: &Path) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("twostep-loadgen-pg.")
            .tempdir()?;
        let path = dir
            .path()
            .to_str()
            .ok_or("temp dir is not UTF-8")?
            .to_owned();
        if is_root() {
            let mut chown = std::process::Command::new("chown");
            chown.args(["postgres:postgres", &path]);
            run(chown, "chown postgres").await?;
        }
        let data = format!("{path}/data");
        let initdb = as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        run(initdb, "initdb").await?;
        let statements = bin
            .parent()
            .is_some_and(|version| version.join("lib/pg_stat_statements.so").exists());
        let preload = if statements {
            " -c shared_preload_libraries=pg_stat_statements"
        } else {
            ""
        };
        let mut cluster = Self {
            bin: bin.to_owned(),
            dir,
            port: 0,
            statements,
        };
        // A free port, taken by the time the server binds it only if another process races
        // for it: then try another.
        let mut last = None;
        for _ in 0..3 {
            cluster.port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let options = format!(
                "-p {} -k {path} -c listen_addresses=127.0.0.1 -c max_connections=300 \
                 -c fsync=off -c synchronous_commit=off -c full_page_writes=off{preload}",
                cluster.port
            );
            let log = format!("{path}/log");
            let start = as_postgres(
                &bin.join("pg_ctl"),
                &["-D", &data, "-l", &log, "-w", "start", "-o", &options],
            );
            match run(start, "pg_ctl start").await {
                Ok(()) => {
                    last = None;
                    break;
                }
                Err(error) => last = Some(error),
            }
        }
        if let Some(error) = last {
            return Err(error);
        }
        let port = cluster.port.to_string();
        let createdb = as_postgres(
            &bin.join("createdb"),
            &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "twostep"],
        );
        run(createdb, "createdb").await?;
        Ok(cluster)
    }

    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/twostep", self.port)
    }

    fn data(&self) -> String {
        format!("{}/data", self.dir.path().display())
    }

    /// `pg_ctl restart -m fast`: how long the server was away.
    pub(crate) async fn restart(&self) -> Result<Duration> {
        let (data, log) = (self.data(), format!("{}/log", self.dir.path().display()));
        let restart = as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", &data, "-l", &log, "-m", "fast", "-w", "restart"],
        );
        let started = Instant::now();
        run(restart, "pg_ctl restart").await?;
        Ok(started.elapsed())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let mut stop = as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", &data, "-m", "immediate", "-w", "stop"],
        );
        stop.stdout(Stdio::null()).stderr(Stdio::null());
        let _ = stop.status();
        // The temp dir deletes itself next.
    }
}
