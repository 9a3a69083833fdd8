//! The node's structured logs (`tracing`): one line per meaningful event on stderr (the
//! `node.log` of `xln net up`), as text (`key=value` fields) or JSON lines. The level is,
//! first found: `--log-level`, `RUST_LOG`, the node file's `#:log-level`, `info`; each is
//! a `tracing-subscriber` filter (`warn`, `info,xln::node::peers=debug`, ...). The
//! format: `--log-format`, else `#:log-format`, else text.
//!
//! Events and their fields (every line also has `node`):
//! `peer connected` / `peer lost` / `peer unreachable` (`peer`, `url`, `reason`),
//! `peer refused` (`remote`, `peer`, `reason`, `detail`), `input rejected` (`peer`,
//! `reason`, `detail`), `frame committed` (`entity`, `height`, `txs`), `payment sent` /
//! `payment settled` / `payment failed` / `payment received` / `payment forwarded` /
//! `payment refused` (`entity`, `hashlock`, ...), `account tx rejected`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// `2026-12-02T01:02:03.456Z  WARN peer refused node=hub remote=… reason=…`.
    Text,
    /// One JSON object per line, fields at the top level.
    Json,
}

impl LogFormat {
    /// `text` or `json`.
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("log format {other:?}: use text or json")),
        }
    }
}

/// Where the level comes from, in order (see the module documentation).
pub fn level(cli: Option<&str>, config: Option<&str>) -> String {
    cli.map(str::to_string)
        .or_else(|| std::env::var("RUST_LOG").ok().filter(|s| !s.is_empty()))
        .or_else(|| config.map(str::to_string))
        .unwrap_or_else(|| "info".to_string())
}

/// Installs the process-wide subscriber. A second call (a test in one process) keeps the
/// first.
///
/// # Errors
/// A filter that does not parse.
pub fn init(level: &str, format: LogFormat) -> Result<(), String> {
    let filter = EnvFilter::try_new(level).map_err(|e| format!("log level {level:?}: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
    Ok(())
}
