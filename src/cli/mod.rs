//! The `xln` command line: the subcommands (repl, run, check, eval, bench, doc, arch,
//! snapshot, wal, node, net, chaos; the grammar is `args.rs`, clap's derive API), exit codes (0 ok,
//! 1 script error, 2 usage error), and running everything on a thread whose stack is sized
//! for the configured recursion limit.

pub mod arch;
pub mod args;
pub mod bench;
pub mod store;

use std::io::IsTerminal;

use clap::Parser as _;
use std::path::Path;

use crate::error::{Failure, HostCode, HostError};
use crate::lang::diagnostics::Control;
use crate::lang::{Interp, Limits, Output, Value};

pub const USAGE: &str = "\
xln — the XLN payment network language

USAGE:
    xln [OPTIONS]                  start the REPL
    xln repl [--node URL]          start the REPL (--node: drive a live node, see node-* builtins)
    xln run FILE [ARGS...]         run a script (ARGS via (command-line-arguments));
                                   --timeline OUT.jsonl writes the simulation timeline;
                                   --chain URL makes (connect-chain!) use that node
                                   --store DIR logs every runtime input to DIR and resumes
                                   where a previous run over DIR stopped
                                   (--snapshot-every N: a snapshot every N inputs [1000])
    xln snapshot dump|load|diff    readable runtime snapshots (`xln snapshot` for usage)
    xln wal inspect|verify|prune DIR  the write-ahead log of a store (verify also takes a node's
                                   data directory: each replica's state hash, as the node reports)
    xln node CONFIG                run a node: its replicas, key files, data directory and peers
    xln net up NETWORK.xln [--dir DIR]  start a local network of node processes (default DIR xln-net)
    xln net down [DIR]             stop them
    xln chaos NETWORK.xln --minutes N --seed S [--min-kills K] [--min-partitions P]
                                   a local network under random payments, kills, partitions
                                   and torn WAL tails; then drains and checks everything
    xln check FILE...              read and expand files, report every error, run nothing
    xln eval 'EXPR...'             evaluate expressions and print the last value
    xln bench [lang|crypto|all]    run built-in benchmarks and print medians
    xln bench net [--accounts N] [--clients K] [--payments P]
                                   payments through a hub node over real sockets, vs the signature floor
    xln doc [NAME]                 show documentation of a builtin or special form
    xln arch [--dot [FILE]] [--svg FILE] [--script S]
                                   the architecture as a tree, or Graphviz DOT/SVG of the
                                   layers (and of script S's live account network)

OPTIONS:
    --max-depth N      nested (non-tail) call limit before \"stack depth exceeded\" [10000]
    --step-budget N    stop after N procedure calls (E009) [unlimited]
    --max-alloc MIB    largest single object a script may create (E019) [1024]
    --max-memory MIB   heap the script may hold (E020) [4096]
    --no-color         plain diagnostics (also when NO_COLOR is set or output is not a tty)
    -h, --help         this text
    -V, --version      version

EXIT CODES:
    0 success, 1 script error or failed tests, 2 usage error
";

/// Parsed global options.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub limits: Limits,
    pub color: bool,
    /// `run --timeline FILE`: where to write the simulation timeline as JSON lines.
    pub timeline: Option<std::path::PathBuf>,
    /// `run --chain URL`: the JSON-RPC node `(connect-chain!)` connects to.
    pub chain: Option<String>,
    /// `run --store DIR`: log every runtime input there and resume from it.
    pub store: Option<std::path::PathBuf>,
    /// `run --snapshot-every N`: inputs between snapshots of the store.
    pub snapshot_every: Option<u64>,
    /// `repl --node URL`: the live node the REPL's node builtins drive.
    pub node: Option<String>,
}

/// Entry point used by `main`: returns the process exit code.
pub fn run(args: Vec<String>) -> i32 {
    let color = color_wanted();
    let argv = std::iter::once("xln".to_string()).chain(args::hoist_run_options(args));
    let cli = match args::Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => return clap_error(&e, color),
    };
    let mut options = Options {
        limits: Limits::default(),
        color: color && !cli.no_color,
        timeline: None,
        chain: None,
        store: None,
        snapshot_every: None,
        node: None,
    };
    if let Some(n) = cli.max_depth {
        options.limits.max_depth = usize::try_from(n).unwrap_or(usize::MAX);
    }
    options.limits.step_budget = cli.step_budget.or(options.limits.step_budget);
    if let Some(mib) = cli.max_alloc {
        options.limits.max_alloc_bytes = mib << 20;
    }
    if let Some(mib) = cli.max_memory {
        options.limits.max_memory_bytes = mib << 20;
    }
    let stack = crate::lang::eval::stack_bytes_for(&options.limits);
    options.limits.stack_bytes = stack - (4 << 20);
    let command = cli.command;
    let worker = std::thread::Builder::new()
        .name("xln".into())
        .stack_size(stack)
        .spawn(move || dispatch(command, options));
    match worker.map(|h| h.join()) {
        Ok(Ok(code)) => code,
        _ => {
            eprintln!("xln: internal error: the interpreter thread stopped unexpectedly");
            1
        }
    }
}

/// Help and version exit 0; every other parse error is a usage error (exit 2).
fn clap_error(e: &clap::Error, color: bool) -> i32 {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp => {
            let _ = e.print();
            0
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprint!("{}", e.render());
            2
        }
        ErrorKind::DisplayVersion => {
            println!("xln {}", env!("CARGO_PKG_VERSION"));
            0
        }
        _ => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("bad arguments");
            usage_error(first.trim_start_matches("error: "), color)
        }
    }
}

fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}

fn usage_error(message: &str, color: bool) -> i32 {
    let e = HostError::new(HostCode::Usage, message).with_help("run `xln --help` for usage");
    eprint!("{}", Failure::Host(e).render(color));
    2
}

fn dispatch(command: Option<args::Command>, options: Options) -> i32 {
    use args::Command as C;
    let Some(command) = command else {
        return crate::repl::start(options);
    };
    let color = options.color;
    match command {
        C::Repl { node } => crate::repl::start(Options { node, ..options }),
        C::Run(mut r) => {
            // A lone `--` ends the run options; it is not one of the script's arguments.
            if let Some(i) = r.rest.iter().position(|a| a == "--") {
                r.rest.remove(i);
            }
            run_command(r, options)
        }
        C::Check { files } => check_files(&files, &options),
        C::Eval { exprs } => eval_text(&exprs.join(" "), &options),
        C::Bench { args } => match args.split_first() {
            Some((group, rest)) if group == "net" => {
                let argv = std::iter::once("xln bench net".to_string()).chain(rest.iter().cloned());
                match args::NetBench::try_parse_from(argv) {
                    Ok(b) => crate::node::bench::command(&b),
                    Err(e) => clap_error(&e, color),
                }
            }
            _ => bench::run(args.first().map(String::as_str).unwrap_or("all")),
        },
        C::Doc { name } => doc(name.as_deref()),
        C::Arch { args } => arch::run(&args, &options),
        C::Snapshot { args } => store::snapshot_command(&args, color),
        C::Wal { args } => store::wal_command(&args, color),
        C::Node {
            config,
            log_level,
            log_format,
        } => crate::node::run_logging(&config, log_level.as_deref(), log_format.as_deref()),
        C::Net { action } => net_command(action),
        C::Chaos(c) => crate::chaos::command(crate::chaos::ChaosOptions {
            network: c.network,
            minutes: c.minutes,
            seed: c.seed.unwrap_or_else(crate::chaos::clock_seed),
            dir: c.dir,
            min_kills: c.min_kills,
            min_partitions: c.min_partitions,
            payers: c.payers,
            keep: c.keep,
        }),
        C::External(words) => match words.split_first() {
            Some((file, rest)) if file.ends_with(".xln") => {
                run_file(Path::new(file), rest.to_vec(), &options)
            }
            Some((other, _)) => usage_error(&format!("unknown command `{other}`"), color),
            None => crate::repl::start(options),
        },
    }
}

/// `xln run FILE [ARGS...]` with its options.
fn run_command(r: args::RunArgs, options: Options) -> i32 {
    match r.rest.split_first() {
        Some((file, script_args)) => {
            let options = Options {
                timeline: r.timeline,
                chain: r.chain,
                store: r.store,
                snapshot_every: r.snapshot_every,
                ..options
            };
            run_file(Path::new(file), script_args.to_vec(), &options)
        }
        None => usage_error("`xln run` needs a FILE", options.color),
    }
}

/// `xln net up NETWORK.xln [--dir DIR]` and `xln net down [DIR]`.
fn net_command(action: args::NetAction) -> i32 {
    let result = match action {
        args::NetAction::Up {
            network,
            dir,
            log_level,
            log_format,
        } => crate::node::net::up_logging(
            &network,
            &dir,
            log_level.as_deref(),
            log_format.as_deref(),
        ),
        args::NetAction::Down { dir, dir_option } => {
            let dir = dir.or(dir_option).unwrap_or_else(|| "xln-net".into());
            crate::node::net::down(&dir)
        }
    };
    match result {
        Ok(text) => {
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
            0
        }
        Err(message) => {
            eprintln!("xln net: {message}");
            1
        }
    }
}

/// Prints a failure through the one reporting path and returns its exit code.
pub fn report(failure: Failure, color: bool) -> i32 {
    if let Failure::Script(e) = &failure {
        match e.control {
            Control::Exit(code) => return code,
            Control::Escape(_) => {
                eprintln!("xln: a continuation was called after the call/cc that made it returned");
                return 1;
            }
            Control::None => {}
        }
    }
    let code = match &failure {
        Failure::Host(h) if h.code == HostCode::Usage => 2,
        _ => 1,
    };
    eprint!("{}", failure.render(color));
    code
}

/// Runs a script file; failed `test` forms make the exit code 1.
pub fn run_file(path: &Path, script_args: Vec<String>, options: &Options) -> i32 {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            let mut h = HostError::io(&format!("cannot read {}", path.display()), &e);
            if e.kind() == std::io::ErrorKind::NotFound {
                h.code = HostCode::Usage;
            }
            return report(h.into(), options.color);
        }
    };
    let mut interp = Interp::new(options.limits.clone(), Output::stdout());
    interp.script_args = script_args;
    if let Some(url) = &options.chain {
        crate::bindings::chain::set_default_url(&mut interp, url);
    }
    interp.module = interp.modules.new_module("main", Some(path.to_path_buf()));
    if let Some(dir) = &options.store {
        match crate::bindings::storage::attach_resuming(&mut interp, dir, options.snapshot_every) {
            Ok(recovery) => eprintln!("{recovery}"),
            Err(e) => {
                let e = HostError::new(HostCode::Storage, e.to_string());
                return report(e.into(), options.color);
            }
        }
    }
    let result = interp.eval_source(&path.display().to_string(), &text);
    interp.out.flush();
    let stored = crate::bindings::storage::finish(&mut interp);
    if let Some(file) = &options.timeline {
        // Written even when the script failed: the timeline is how one sees why.
        let json = crate::bindings::runtime::timeline_json(&interp).unwrap_or_default();
        if let Err(e) = std::fs::write(file, json) {
            let what = format!("cannot write the timeline to {}", file.display());
            report(HostError::io(&what, &e).into(), options.color);
            return 1;
        }
    }
    if let Err(e) = result {
        return report(e.into(), options.color);
    }
    match stored {
        Ok(line) if !line.is_empty() => eprintln!("{line}"),
        Ok(_) => {}
        Err(message) => {
            return report(
                HostError::new(HostCode::Storage, message).into(),
                options.color,
            )
        }
    }
    test_summary(&interp)
}

fn test_summary(interp: &Interp) -> i32 {
    let t = &interp.tests;
    if t.passed + t.failed == 0 {
        return 0;
    }
    println!("{} passed, {} failed", t.passed, t.failed);
    i32::from(t.failed > 0)
}

fn check_files(files: &[String], options: &Options) -> i32 {
    let mut total = 0;
    for file in files {
        let path = Path::new(file);
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                report(
                    HostError::io(&format!("cannot read {file}"), &e).into(),
                    options.color,
                );
                total += 1;
                continue;
            }
        };
        let mut interp = Interp::new(options.limits.clone(), Output::stdout());
        interp.module = interp.modules.new_module("main", Some(path.to_path_buf()));
        let errors = interp.check_source(file, &text);
        total += errors.len();
        for e in errors {
            eprint!("{}", e.render(options.color));
        }
    }
    let plural = if total == 1 { "" } else { "s" };
    eprintln!(
        "checked {} file{}: {total} error{plural}",
        files.len(),
        if files.len() == 1 { "" } else { "s" }
    );
    i32::from(total > 0)
}

fn eval_text(text: &str, options: &Options) -> i32 {
    let mut interp = Interp::new(options.limits.clone(), Output::stdout());
    match interp.eval_source("<eval>", text) {
        Ok(v) => {
            interp.out.flush();
            if !matches!(v, Value::Void) {
                println!("{}", crate::lang::printer::write_string(&v));
            }
            test_summary(&interp)
        }
        Err(e) => report(e.into(), options.color),
    }
}

fn doc(name: Option<&str>) -> i32 {
    match name {
        Some(n) => match crate::repl::doc_text(n) {
            Some(text) => {
                println!("{text}");
                0
            }
            None => {
                eprintln!("no documentation for `{n}`");
                1
            }
        },
        None => {
            print!("{}", crate::repl::reference_markdown());
            0
        }
    }
}
