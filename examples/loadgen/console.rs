//! The web console as a child process: built with cargo next to this binary (same
//! profile), started on a free loopback port with the floor route and a short pool acquire
//! timeout, its output drained (the last lines kept for diagnosis), its memory read from
//! `/proc/<pid>/status`.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::Result;

/// Builds the `web` example with cargo, in the profile and target dir of this binary, and
/// returns its path.
pub(crate) async fn build() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let examples = exe.parent().ok_or("no dir above this binary")?;
    let profile_dir = examples
        .parent()
        .ok_or("no profile dir above this binary")?;
    let target = profile_dir
        .parent()
        .ok_or("no target dir above this binary")?;
    let profile = profile_dir
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or("the profile dir is not UTF-8")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // The workspace's manifest, as `cargo run --example loadgen` uses it: the same
    // packages selected, the same features, so nothing but the console is built.
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let mut command = Command::new(cargo);
    command
        .args(["build", "--quiet", "--manifest-path", manifest])
        .args(["--example", "web"])
        .env("CARGO_TARGET_DIR", target)
        .stdin(Stdio::null());
    if profile != "debug" {
        command.args(["--profile", profile]);
    }
    eprintln!("building the console: cargo build --example web ({profile})");
    let status = command.status().await?;
    if !status.success() {
        return Err(format!("building the web console failed ({status})").into());
    }
    Ok(examples.join(format!("web{}", std::env::consts::EXE_SUFFIX)))
}

/// How to start the console.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub(crate) binary: PathBuf,
    pub(crate) database_url: String,
    pub(crate) acquire_timeout: Duration,
    /// `TWOSTEP_SEALING_KEY` and `TWOSTEP_STATE_KEY`.
    pub(crate) env: Vec<(String, String)>,
}

/// The last lines of a stream, and how many there were.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    pub(crate) lines: u64,
    pub(crate) last: VecDeque<String>,
}

const KEPT_LINES: usize = 20;

/// The console's memory, in KiB.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Memory {
    /// Resident now (`VmRSS`).
    pub(crate) rss: u64,
    /// Resident at its peak (`VmHWM`), since start or the last [`Console::reset_peak`].
    pub(crate) peak: u64,
}

/// A running console.
#[derive(Debug)]
pub(crate) struct Console {
    child: Child,
    pid: u32,
    pub(crate) base: String,
    pub(crate) stderr: Arc<Mutex<Tail>>,
}

impl Console {
    /// Starts the console and waits until it listens.
    pub(crate) async fn start(spec: &Spec) -> Result<Self> {
        let timeout = spec.acquire_timeout.as_secs_f64().to_string();
        let mut child = Command::new(&spec.binary)
            .args(["--addr", "127.0.0.1:0", "--load-floor"])
            .args(["--database-url", &spec.database_url])
            .args(["--db-acquire-timeout", &timeout])
            .envs(spec.env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| format!("starting {}: {error}", spec.binary.display()))?;
        let pid = child.id().ok_or("the console exited at once")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let err_tail = Arc::new(Mutex::new(Tail::default()));
        drain(stderr, Arc::clone(&err_tail));
        let mut lines = BufReader::new(stdout).lines();
        let listening = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some((_, url)) = line.split_once(" on http") {
                    return Some(format!("http{url}"));
                }
            }
            None
        })
        .await;
        let Ok(Some(base)) = listening else {
            let _ = child.kill().await;
            let tail = err_tail
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .last
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(" | ");
            return Err(format!("the console did not start: {tail}").into());
        };
        // The audit trail and the mail keep coming: read them so that the console never
        // blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            pid,
            base,
            stderr: err_tail,
        })
    }

    /// Its memory now, from `/proc/<pid>/status`.
    pub(crate) fn memory(&self) -> Option<Memory> {
        memory_of(self.pid)
    }

    /// A reader of its memory, for a sampling task.
    pub(crate) fn memory_reader(&self) -> impl Fn() -> Option<Memory> + Send + 'static {
        let pid = self.pid;
        move || memory_of(pid)
    }
}

/// The memory of process `pid`, from `/proc/<pid>/status`.
fn memory_of(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse::<u64>().ok())
    };
    Some(Memory {
        rss: field("VmRSS:")?,
        peak: field("VmHWM:")?,
    })
}

impl Console {
    /// Resets the peak (`VmHWM`) to the current resident size (`echo 5 > clear_refs`).
    pub(crate) fn reset_peak(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5").is_ok()
    }

    /// Whether it still runs.
    pub(crate) fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// `SIGKILL`, and waits for it to be gone.
    pub(crate) async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// What it printed on stderr last.
    pub(crate) fn stderr_summary(&self) -> String {
        let tail = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        match tail.last.back() {
            Some(last) => format!("{} lines, the last: {last}", tail.lines),
            None => "nothing".to_owned(),
        }
    }
}

fn drain(stream: impl AsyncRead + Unpin + Send + 'static, tail: Arc<Mutex<Tail>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut tail = tail.lock().unwrap_or_else(PoisonError::into_inner);
            tail.lines += 1;
            if tail.last.len() == KEPT_LINES {
                tail.last.pop_front();
            }
            tail.last.push_back(line);
        }
    });
}

/// The path given, or the console built next to this binary.
pub(crate) async fn binary(given: Option<&Path>) -> Result<PathBuf> {
    match given {
        Some(path) => Ok(path.to_owned()),
        None => build().await,
    }
}
