//! The command line's grammar, declared with clap's derive API: global options, then a
//! command. `xln --help` prints [`USAGE`](super::USAGE) (the hand-written overview, one
//! screen); clap's errors become usage errors (exit 2). `arch`, `snapshot` and `wal` keep
//! their own small parsers (their argument shapes are positional and documented in their
//! usage texts), so they take their arguments as given.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `xln [OPTIONS] [COMMAND]`.
#[derive(Parser, Debug)]
#[command(
    name = "xln",
    version,
    disable_help_subcommand = true,
    override_help = super::USAGE,
    args_conflicts_with_subcommands = false
)]
pub struct Cli {
    /// Nested (non-tail) call limit before "stack depth exceeded".
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_depth: Option<u64>,
    /// Stop after N procedure calls (E009).
    #[arg(long)]
    pub step_budget: Option<u64>,
    /// The largest single allocation a script may ask for, in MiB (E019).
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..(1 << 40)))]
    pub max_alloc: Option<u64>,
    /// The interpreter's live heap limit, in MiB (E020).
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..(1 << 40)))]
    pub max_memory: Option<u64>,
    /// Plain diagnostics.
    #[arg(long)]
    pub no_color: bool,
    /// The command (none: the REPL).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start the REPL (attached to a live node with `--node URL`).
    Repl {
        /// The JSON-RPC URL of a node for the node-* builtins.
        #[arg(long)]
        node: Option<String>,
    },
    /// Run a script.
    Run(RunArgs),
    /// Read and expand files, report every error, run nothing.
    Check {
        /// The files.
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Evaluate expressions and print the last value.
    Eval {
        /// The expressions (joined with spaces).
        #[arg(required = true, allow_hyphen_values = true)]
        exprs: Vec<String>,
    },
    /// Built-in benchmarks (`lang`, `all`) or the network benchmark (`net`).
    Bench {
        /// The group and, for `net`, its options.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Documentation of a builtin or special form (all of them without NAME).
    Doc {
        /// The name.
        name: Option<String>,
    },
    /// The architecture as a tree, DOT or SVG.
    Arch {
        /// As `xln arch` documents.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Readable runtime snapshots.
    Snapshot {
        /// As `xln snapshot` documents.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The write-ahead log of a store or a node's data directory.
    Wal {
        /// As `xln wal` documents.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run a node: the replicas, keys, data directory and peers of CONFIG.
    Node {
        /// The node file.
        config: PathBuf,
        /// Log filter (overrides RUST_LOG and the node file): `warn`, `info,xln::node=debug`, ...
        #[arg(long)]
        log_level: Option<String>,
        /// Log lines as `text` or `json`.
        #[arg(long, value_parser = ["text", "json"])]
        log_format: Option<String>,
    },
    /// A local network of node processes.
    Net {
        /// up or down.
        #[command(subcommand)]
        action: NetAction,
    },
    /// A chaos run over a local network of node processes.
    Chaos(ChaosArgs),
    /// `xln FILE.xln [ARGS...]`: run a script.
    #[command(external_subcommand)]
    External(Vec<String>),
}

/// `xln run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Write the simulation timeline as JSON lines.
    #[arg(long)]
    pub timeline: Option<PathBuf>,
    /// The JSON-RPC node `(connect-chain!)` uses.
    #[arg(long)]
    pub chain: Option<String>,
    /// Log every runtime input to DIR and resume from it.
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Inputs between snapshots of the store.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub snapshot_every: Option<u64>,
    /// FILE, then the script's arguments.
    #[arg(allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

/// `xln net up|down`.
#[derive(Subcommand, Debug)]
pub enum NetAction {
    /// Start every node of NETWORK (configs, keys, data under DIR).
    Up {
        /// The network file.
        network: PathBuf,
        /// Where the nodes' files go.
        #[arg(long, default_value = "xln-net")]
        dir: PathBuf,
        /// Every node's log filter (written into the node files).
        #[arg(long)]
        log_level: Option<String>,
        /// Every node's log lines as `text` or `json`.
        #[arg(long, value_parser = ["text", "json"])]
        log_format: Option<String>,
    },
    /// Stop every node of DIR.
    Down {
        /// The network's directory.
        dir: Option<PathBuf>,
        /// The same, as an option.
        #[arg(long = "dir")]
        dir_option: Option<PathBuf>,
    },
}

/// `xln chaos NETWORK.xln --minutes N --seed S`.
#[derive(Args, Debug)]
pub struct ChaosArgs {
    /// The network file (it must set #:proxy-base-port).
    pub network: PathBuf,
    /// Minutes of faults (fractions allowed), then the drain and the checks.
    #[arg(long, default_value_t = 2.0)]
    pub minutes: f64,
    /// The seed of every choice (default: from the clock; printed either way).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where the nodes' files go (must not exist or be empty; default a temporary dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Fail unless at least this many nodes were killed.
    #[arg(long, default_value_t = 0)]
    pub min_kills: u64,
    /// Fail unless at least this many partitions were made.
    #[arg(long, default_value_t = 0)]
    pub min_partitions: u64,
    /// Concurrent payer threads.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub payers: u64,
    /// Keep the nodes' files even when every check passed.
    #[arg(long)]
    pub keep: bool,
}

/// `xln bench net` options.
#[derive(Parser, Debug)]
#[command(name = "xln bench net")]
pub struct NetBench {
    /// Accounts (users) at the hub.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub accounts: u64,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    pub clients: u64,
    /// Payments in all.
    #[arg(long, default_value_t = 4_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub payments: u64,
    /// First port.
    #[arg(long, default_value_t = 27_100, value_parser = clap::value_parser!(u16).range(1024..60_000))]
    pub base_port: u16,
}

/// The options of `xln run` that take a value.
const RUN_OPTIONS: [&str; 4] = ["--timeline", "--chain", "--store", "--snapshot-every"];

/// `xln run` has always accepted its options anywhere before a lone `--` (`xln run FILE
/// --store DIR ARGS`), while everything after FILE is otherwise the script's. Clap stops
/// parsing options once FILE's arguments begin, so this moves the run options (with their
/// values) in front of FILE first; clap then parses and checks them.
pub fn hoist_run_options(args: Vec<String>) -> Vec<String> {
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--max-depth" | "--step-budget" => i += 2,
            a if a.starts_with('-') => i += 1,
            _ => break,
        }
    }
    if args.get(i).map(String::as_str) != Some("run") {
        return args;
    }
    let (head, tail) = args.split_at(i + 1);
    let mut options = Vec::new();
    let mut rest = Vec::new();
    let mut it = tail.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            rest.push(a.clone());
            rest.extend(it.cloned());
            break;
        }
        if RUN_OPTIONS.contains(&a.as_str()) {
            options.push(a.clone());
            if let Some(v) = it.next() {
                options.push(v.clone());
            }
        } else {
            rest.push(a.clone());
        }
    }
    head.iter().cloned().chain(options).chain(rest).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn run_options_anywhere_before_a_lone_dash_dash() {
        assert_eq!(
            hoist_run_options(v(&[
                "--no-color",
                "run",
                "f.xln",
                "--store",
                "d",
                "20",
                "--",
                "--chain",
                "x"
            ])),
            v(&[
                "--no-color",
                "run",
                "--store",
                "d",
                "f.xln",
                "20",
                "--",
                "--chain",
                "x"
            ])
        );
        assert_eq!(
            hoist_run_options(v(&["eval", "--store"])),
            v(&["eval", "--store"])
        );
        let cli = Cli::try_parse_from(std::iter::once("xln".to_string()).chain(hoist_run_options(
            v(&["run", "f.xln", "-x", "--timeline", "t"]),
        )))
        .unwrap();
        match cli.command {
            Some(Command::Run(r)) => {
                assert_eq!(r.timeline, Some(PathBuf::from("t")));
                assert_eq!(r.rest, v(&["f.xln", "-x"]));
            }
            other => panic!("{other:?}"),
        }
    }
}
