//! `scan`: list registries' repositories, resolve their tags, and record
//! what they point to (the library's `ociledger::scan`), once or every
//! DURATION until interrupted. One JSON summary line per round on stdout,
//! each repository's failure as problem+json on stderr; exit 0 when
//! everything was scanned, 1 when a tag or repository failed, 130 when
//! interrupted (Ctrl-C or SIGTERM: the transaction running then is finished
//! or dropped whole).

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ociledger::id::RepositoryId;
use ociledger::problem::ErrorModel;
use ociledger::scan::{
    Credentials, Options, Progress, RepositoryReport, ScanError, Scanner, TagFilter,
};
use ociledger::secrets::SecretKey;
use ociledger::{Error, Ledger, RegistryAuth};
use serde::Serialize;

use crate::output::{print, stdin_error};

#[derive(Args)]
pub struct ScanArgs {
    /// Repositories to scan: host[:port]/path (docker.io names may be short: nginx, istio/pilot).
    #[arg(required = true, value_name = "REPOSITORY")]
    repositories: Vec<String>,
    /// Resolve only the tags matching this glob (`*` any run, `?` one character); repeat for more.
    /// Tags outside it are still listed, so they are never recorded as deleted.
    #[arg(long = "tags", value_name = "GLOB")]
    tags: Vec<String>,
    /// Requests in flight at once, per repository.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
    /// Talk plain HTTP to the registry (a local registry), not HTTPS.
    #[arg(long)]
    plain_http: bool,
    /// Scan again every DURATION (30s, 10m, 1h, 1h30m) until interrupted.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    every: Option<Duration>,
    /// The user name for the registry (one registry per run), with --password-stdin.
    /// Without it, the credentials of the REGISTRY integration matching the registry are used.
    #[arg(long, requires = "password_stdin")]
    username: Option<String>,
    /// Read the password (or token) from standard input; it is never printed.
    #[arg(long, requires = "username")]
    password_stdin: bool,
    /// The longest wait for one request, answer included.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
    /// Retries of a request after a 5xx, a 429, a timeout or a failed connection.
    #[arg(long, default_value_t = 3)]
    retries: u32,
    /// The first retry's wait (each next one doubles, up to 30 s).
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    backoff: Duration,
    /// The longest Retry-After honoured; a registry asking for more fails the request.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    max_retry_after: Duration,
    /// Ask for tag listing pages of N tags (default: the registry's choice).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    page_size: Option<u32>,
}

/// `10m`, `30s`, `1h30m`, `500ms`, `2d`: numbers, each with a unit.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("give a duration: 30s, 10m, 1h".to_owned());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "{text:?}: expected a number at {rest:?} (e.g. 30s, 10m, 1h30m)"
            ));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|e| format!("{text:?}: {e}"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.saturating_mul(60)),
            "h" => Duration::from_secs(number.saturating_mul(3600)),
            "d" => Duration::from_secs(number.saturating_mul(86_400)),
            "" => {
                return Err(format!(
                    "{text:?}: give a unit after {number} (ms, s, m, h, d)"
                ));
            }
            other => return Err(format!("{text:?}: unknown unit {other:?} (ms, s, m, h, d)")),
        };
        total = total.saturating_add(part);
        rest = &rest[unit_len..];
    }
    if total.is_zero() {
        return Err(format!("{text:?}: must be longer than zero"));
    }
    Ok(total)
}

/// One round's summary line.
#[derive(Serialize)]
struct RoundSummary<'a> {
    round: u64,
    seconds: f64,
    interrupted: bool,
    repositories_scanned: u64,
    tags_listed: u64,
    tags_scanned: u64,
    tags_new: u64,
    tags_moved: u64,
    tags_unchanged: u64,
    tags_deleted: u64,
    violations: u64,
    manifests_fetched: u64,
    requests: u64,
    retries: u64,
    failures: Vec<Failure<'a>>,
    repositories: &'a [RepositoryReport],
}

#[derive(Serialize)]
struct Failure<'a> {
    repository: &'a RepositoryId,
    tag: Option<&'a str>,
    digest: Option<String>,
    reason: String,
}

impl<'a> RoundSummary<'a> {
    fn new(round: u64, seconds: f64, interrupted: bool, reports: &'a [RepositoryReport]) -> Self {
        let sum = |f: fn(&RepositoryReport) -> u64| reports.iter().map(f).sum();
        let mut failures = Vec::new();
        for r in reports {
            if let Some(e) = &r.error {
                failures.push(Failure {
                    repository: &r.repository,
                    tag: None,
                    digest: None,
                    reason: e.to_string(),
                });
            }
            for f in &r.failures {
                failures.push(Failure {
                    repository: &r.repository,
                    tag: Some(&f.tag),
                    digest: f.digest.map(|d| d.to_string()),
                    reason: f.reason.clone(),
                });
            }
        }
        Self {
            round,
            seconds: (seconds * 1000.0).round() / 1000.0,
            interrupted,
            repositories_scanned: reports.iter().filter(|r| r.written).count() as u64,
            tags_listed: sum(|r| r.tags_listed),
            tags_scanned: sum(|r| r.tags_scanned),
            tags_new: sum(|r| r.tags_new),
            tags_moved: sum(|r| r.tags_moved),
            tags_unchanged: sum(|r| r.tags_unchanged),
            tags_deleted: sum(|r| r.tags_deleted),
            violations: sum(|r| r.violations),
            manifests_fetched: sum(|r| r.manifests_fetched),
            requests: sum(|r| r.requests),
            retries: sum(|r| r.retries),
            failures,
            repositories: reports,
        }
    }
}

/// A repository's failure as a problem+json line on stderr.
fn problem(report: &RepositoryReport, error: &ScanError) {
    let status = match error {
        ScanError::Unauthorized { .. } => 401,
        ScanError::Ledger(e) => e.status(),
        ScanError::Setup(_) => 400,
        _ => 502,
    };
    let title = match status {
        401 => "Unauthorized",
        400 => "Bad Request",
        502 => "Bad Gateway",
        _ => "Internal Server Error",
    };
    let body = ErrorModel {
        status,
        title: title.to_owned(),
        detail: format!("scan of {}: {error}", report.repository),
        errors: None,
        kind: "about:blank".to_owned(),
    };
    if let Ok(line) = serde_json::to_string(&body) {
        eprintln!("{line}");
    }
}

fn invalid(location: &str, message: impl Into<String>, value: Option<String>) -> Error {
    Error::Invalid {
        location: location.to_owned(),
        message: message.into(),
        value,
    }
}

/// The password from standard input, without its final line break.
fn read_password() -> Result<secrecy::SecretString, Error> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .map_err(stdin_error)?;
    while password.ends_with('\n') || password.ends_with('\r') {
        password.pop();
    }
    if password.is_empty() {
        return Err(invalid(
            "--password-stdin",
            "standard input held no password",
            None,
        ));
    }
    Ok(password.into())
}

/// The credentials for `registry` from its REGISTRY integration, if any.
fn integration_credentials(ledger: &Ledger, registry: &str) -> Result<Option<Credentials>, Error> {
    let Some(stored) = ledger.credentials_for(registry)? else {
        return Ok(None);
    };
    match stored.auth() {
        RegistryAuth::Basic { username, password } => Ok(Some(Credentials::new(
            username,
            password.expose().to_owned().into(),
        ))),
        RegistryAuth::Anonymous => Ok(None),
        _ => Err(invalid(
            "integration",
            format!(
                "the REGISTRY integration {:?} for {registry} authenticates with cloud credentials (ECR keys or workload identity), which the scanner does not exchange yet; pass --username and --password-stdin",
                stored.integration().name
            ),
            Some(registry.to_owned()),
        )),
    }
}

pub fn run(
    db: &Path,
    key_file: Option<&Path>,
    actor: &str,
    args: &ScanArgs,
) -> Result<ExitCode, Error> {
    let repositories = args
        .repositories
        .iter()
        .map(|r| {
            r.parse::<RepositoryId>()
                .map_err(|e| invalid("repository", e.to_string(), Some(r.clone())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut registries: Vec<&str> = repositories.iter().map(RepositoryId::domain).collect();
    registries.sort_unstable();
    registries.dedup();
    // The password is read before the ledger is opened: a missing one
    // leaves no file behind.
    let password = if args.password_stdin {
        if registries.len() > 1 {
            return Err(invalid(
                "--username",
                format!(
                    "credentials given on the command line are for one registry, and these repositories are on {}: scan each registry in its own run",
                    registries.join(", ")
                ),
                None,
            ));
        }
        Some(read_password()?)
    } else {
        None
    };
    let mut ledger = Ledger::create(db)?;
    if let Some(path) = key_file {
        ledger = ledger.with_secret_key(SecretKey::from_file(path)?);
    }
    let options = Options {
        concurrency: usize::from(args.concurrency),
        timeout: args.timeout,
        retries: args.retries,
        backoff: args.backoff,
        max_retry_after: args.max_retry_after,
        plain_http: args.plain_http,
        tags: TagFilter::new(args.tags.iter().cloned()),
        page_size: args.page_size.map(|n| n as usize),
        ..Options::default()
    };
    let mut scanner = Scanner::new(options);
    for registry in &registries {
        let credentials = match (&args.username, &password) {
            (Some(user), Some(password)) => Some(Credentials::new(user.clone(), password.clone())),
            _ => integration_credentials(&ledger, registry)?,
        };
        if let Some(c) = credentials {
            scanner = scanner.with_credentials(registry, c);
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the I/O runtime", e))?;
    runtime.block_on(rounds(&ledger, actor, &scanner, &repositories, args.every))
}

/// Scans every repository once, or every `every` until interrupted.
async fn rounds(
    ledger: &Ledger,
    actor: &str,
    scanner: &Scanner,
    repositories: &[RepositoryId],
    every: Option<Duration>,
) -> Result<ExitCode, Error> {
    let mut interrupt = Interrupt::new().map_err(|e| Error::io("listening for Ctrl-C", e))?;
    let mut round = 0;
    loop {
        round += 1;
        let started = Instant::now();
        let (reports, interrupted) =
            scan_round(ledger, actor, scanner, repositories, &mut interrupt).await;
        for r in &reports {
            if let Some(e) = &r.error {
                problem(r, e);
            }
        }
        let summary = RoundSummary::new(
            round,
            started.elapsed().as_secs_f64(),
            interrupted,
            &reports,
        );
        let failed = !summary.failures.is_empty();
        print(&summary)?;
        if interrupted {
            return Ok(ExitCode::from(130));
        }
        let Some(every) = every else {
            return Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            });
        };
        tokio::select! {
            () = tokio::time::sleep(every.saturating_sub(started.elapsed())) => {}
            () = interrupt.recv() => return Ok(ExitCode::from(130)),
        }
    }
}

/// One round: the repositories one after another, each its own
/// transaction. An interrupt drops the repository in progress before its
/// write (the write is the scan's last, synchronous step, so it is never
/// cut) and ends the round.
async fn scan_round(
    ledger: &Ledger,
    actor: &str,
    scanner: &Scanner,
    repositories: &[RepositoryId],
    interrupt: &mut Interrupt,
) -> (Vec<RepositoryReport>, bool) {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {pos}/{len} tags [{elapsed_precise}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let on_progress = |p: Progress<'_>| match p {
        Progress::Listed { repository, tags } => {
            bar.set_message(repository.to_string());
            bar.inc_length(tags as u64);
        }
        Progress::Resolved { .. } => bar.inc(1),
        _ => {}
    };
    let mut reports = Vec::with_capacity(repositories.len());
    let mut interrupted = false;
    for repository in repositories {
        tokio::select! {
            report = scanner.scan_repository(ledger, actor, repository, &on_progress) => reports.push(report),
            () = interrupt.recv() => {
                interrupted = true;
                break;
            }
        }
    }
    bar.finish_and_clear();
    (reports, interrupted)
}

/// Ctrl-C (and SIGTERM on Unix), listened for from the start of the run.
struct Interrupt {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Interrupt {
    #[cfg(unix)]
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    #[cfg(not(unix))]
    fn new() -> std::io::Result<Self> {
        Ok(Self {})
    }

    #[cfg(unix)]
    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }

    #[cfg(not(unix))]
    async fn recv(&mut self) {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    /// Guards against `--every 10m` meaning ten milliseconds or ten
    /// seconds, and against a unitless or zero interval being accepted.
    #[test]
    fn durations_need_units_and_add_up() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }
}
