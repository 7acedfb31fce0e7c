//! The command line (lexopt, as the other examples).

use std::path::PathBuf;
use std::time::Duration;

use crate::seed::Sizes;

/// A database to run the scenarios on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Db {
    Sqlite,
    Postgres,
}

impl Db {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

/// What to run, and the bounds.
#[derive(Debug)]
pub(crate) struct Settings {
    /// The short correctness run of CI.
    pub(crate) smoke: bool,
    /// Scenario numbers, in order.
    pub(crate) scenarios: Vec<u8>,
    pub(crate) databases: Vec<Db>,
    /// How long a measured phase runs.
    pub(crate) phase: Duration,
    /// The most requests a phase sends.
    pub(crate) max_requests: u64,
    /// The whole run's bound.
    pub(crate) time_limit: Duration,
    pub(crate) sizes: Sizes,
    /// Passed to the console (`--db-acquire-timeout`).
    pub(crate) acquire_timeout: Duration,
    /// How long the client waits for an answer before it counts a hang.
    pub(crate) request_timeout: Duration,
    /// The console to run instead of building `examples/web`.
    pub(crate) web_binary: Option<PathBuf>,
}

pub(crate) const USAGE: &str = "\
usage: loadgen [--scenario 1..6|all|LIST] [--database sqlite|postgres|both] [--smoke]
               [--seconds S] [--max-requests N] [--time-limit S] [--users N]
               [--db-acquire-timeout S] [--request-timeout S] [--web-binary PATH]

  --scenario       1 second steps, 1 to 64 clients, beside the floor route;
                   2 the same under a flood of wrong recovery codes (latency, memory);
                   3 PostgreSQL restarted mid-run; 4 the console killed mid-run (SQLite);
                   5 the pool exhausted by a held lock; 6 organisations of 1k, 10k, 100k
                   (default all; a comma list picks several)
  --database       which databases (default both; PostgreSQL needs Debian's package)
  --smoke          scenarios 2 and 3 with small numbers, asserting correctness only
  --seconds        length of each measured phase (default 5; 2 with --smoke)
  --max-requests   the most requests of one phase (default 200000)
  --time-limit     the whole run's bound in seconds (default 1800; 240 with --smoke)
  --users          users signing in with TOTP codes (default 4096; 1024 with --smoke)";

fn seconds(text: &str, what: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .filter(|duration| !duration.is_zero() && duration.as_secs() <= 24 * 3600)
        .ok_or_else(|| format!("{what}: a number of seconds above 0"))
}

fn scenarios(text: &str) -> Result<Vec<u8>, String> {
    if text == "all" {
        return Ok((1..=6).collect());
    }
    let mut picked = Vec::new();
    for part in text.split(',') {
        match part.trim().parse::<u8>() {
            Ok(n @ 1..=6) => picked.push(n),
            _ => return Err(format!("--scenario: {part:?} is not 1 to 6 or all")),
        }
    }
    picked.sort_unstable();
    picked.dedup();
    Ok(picked)
}

/// Parses the command line.
pub(crate) fn parse() -> Result<Settings, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut smoke = false;
    let mut picked = None;
    let mut databases = vec![Db::Sqlite, Db::Postgres];
    let mut phase = None;
    let mut max_requests = 200_000;
    let mut time_limit = None;
    let mut users = None;
    let mut acquire_timeout = Duration::from_secs(5);
    let mut request_timeout = Duration::from_secs(30);
    let mut web_binary = None;
    let text = |parser: &mut lexopt::Parser| -> Result<String, String> {
        parser
            .value()
            .map_err(|error| error.to_string())?
            .string()
            .map_err(|error| error.to_string())
    };
    while let Some(arg) = parser.next().map_err(|error| error.to_string())? {
        match arg {
            Long("smoke") => smoke = true,
            Long("scenario") => picked = Some(scenarios(&text(&mut parser)?)?),
            Long("database") => {
                databases = match text(&mut parser)?.as_str() {
                    "sqlite" => vec![Db::Sqlite],
                    "postgres" => vec![Db::Postgres],
                    "both" => vec![Db::Sqlite, Db::Postgres],
                    other => {
                        return Err(format!(
                            "--database: {other:?} is not sqlite, postgres or both"
                        ));
                    }
                }
            }
            Long("seconds") => phase = Some(seconds(&text(&mut parser)?, "--seconds")?),
            Long("max-requests") => {
                max_requests = text(&mut parser)?
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or("--max-requests: a number above 0")?;
            }
            Long("time-limit") => {
                time_limit = Some(seconds(&text(&mut parser)?, "--time-limit")?);
            }
            Long("users") => {
                users = Some(
                    text(&mut parser)?
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (64..=1_000_000).contains(n))
                        .ok_or("--users: a number from 64 to 1000000")?,
                );
            }
            Long("db-acquire-timeout") => {
                acquire_timeout = seconds(&text(&mut parser)?, "--db-acquire-timeout")?;
            }
            Long("request-timeout") => {
                request_timeout = seconds(&text(&mut parser)?, "--request-timeout")?;
            }
            Long("web-binary") => web_binary = Some(PathBuf::from(text(&mut parser)?)),
            Long("help") | Short('h') => return Err(String::new()),
            _ => return Err(arg.unexpected().to_string()),
        }
    }
    let scenarios = match (picked, smoke) {
        (Some(picked), _) => picked,
        (None, true) => vec![2, 3],
        (None, false) => (1..=6).collect(),
    };
    let sizes = Sizes {
        step: users.unwrap_or(if smoke { 1024 } else { 4096 }),
        recovery: if smoke { 16 } else { 256 },
        flood: if smoke { 200 } else { 1000 },
        floor: 256,
    };
    Ok(Settings {
        smoke,
        scenarios,
        databases,
        phase: phase.unwrap_or(Duration::from_secs(if smoke { 2 } else { 5 })),
        max_requests,
        time_limit: time_limit.unwrap_or(Duration::from_secs(if smoke { 240 } else { 1800 })),
        sizes,
        acquire_timeout,
        request_timeout,
        web_binary,
    })
}
