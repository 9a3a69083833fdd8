//! The `xln` command line: argument parsing, the subcommands (repl, run, check, eval,
//! bench, doc), exit codes (0 ok, 1 script error, 2 usage error), and running everything on
//! a thread whose stack is sized for the configured recursion limit.

pub mod arch;
pub mod bench;
pub mod store;

use std::io::IsTerminal;
use std::path::Path;

use crate::error::{Failure, HostCode, HostError};
use crate::lang::diagnostics::Control;
use crate::lang::{Interp, Limits, Output, Value};

pub const USAGE: &str = "\
xln — the XLN payment network language

USAGE:
    xln [OPTIONS]                  start the REPL
    xln repl                       start the REPL
    xln run FILE [ARGS...]         run a script (ARGS via (command-line-arguments));
                                   --timeline OUT.jsonl writes the simulation timeline;
                                   --chain URL makes (connect-chain!) use that node
                                   --store DIR logs every runtime input to DIR and resumes
                                   where a previous run over DIR stopped
                                   (--snapshot-every N: a snapshot every N inputs [1000])
    xln snapshot dump|load|diff    readable runtime snapshots (`xln snapshot` for usage)
    xln wal inspect|verify|prune DIR  the write-ahead log of a store
    xln check FILE...              read and expand files, report every error, run nothing
    xln eval 'EXPR...'             evaluate expressions and print the last value
    xln bench [lang|crypto|all]    run built-in benchmarks and print medians
    xln doc [NAME]                 show documentation of a builtin or special form
    xln arch [--dot [FILE]] [--svg FILE] [--script S]
                                   the architecture as a tree, or Graphviz DOT/SVG of the
                                   layers (and of script S's live account network)

OPTIONS:
    --max-depth N      nested (non-tail) call limit before \"stack depth exceeded\" [10000]
    --step-budget N    stop after N procedure calls (E009) [unlimited]
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
    let mut options = Options {
        limits: Limits::default(),
        color: color_wanted(),
        timeline: None,
        chain: None,
        store: None,
        snapshot_every: None,
        node: None,
    };
    let mut rest = Vec::new();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        if !rest.is_empty() {
            rest.push(arg);
            continue;
        }
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                return 0;
            }
            "-V" | "--version" => {
                println!("xln {}", env!("CARGO_PKG_VERSION"));
                return 0;
            }
            "--no-color" => options.color = false,
            "--max-depth" | "--step-budget" => {
                let value = it.next().and_then(|v| v.parse::<u64>().ok());
                match (arg.as_str(), value) {
                    ("--max-depth", Some(n)) if n > 0 && n <= 10_000_000 => {
                        options.limits.max_depth = n as usize
                    }
                    ("--step-budget", Some(n)) => options.limits.step_budget = Some(n),
                    _ => {
                        return usage_error(
                            &format!("{arg} needs a positive integer"),
                            options.color,
                        )
                    }
                }
            }
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return usage_error(&format!("unknown option `{flag}`"), options.color)
            }
            _ => rest.push(arg),
        }
    }
    let stack = crate::lang::eval::stack_bytes_for(&options.limits);
    options.limits.stack_bytes = stack - (4 << 20);
    let worker = std::thread::Builder::new()
        .name("xln".into())
        .stack_size(stack)
        .spawn(move || dispatch(rest, options));
    match worker.map(|h| h.join()) {
        Ok(Ok(code)) => code,
        _ => {
            eprintln!("xln: internal error: the interpreter thread stopped unexpectedly");
            1
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

fn dispatch(args: Vec<String>, options: Options) -> i32 {
    let Some((command, rest)) = args.split_first() else {
        return crate::repl::start(options);
    };
    match command.as_str() {
        "repl" => match take_option(rest, "--node") {
            Ok((node, rest)) if rest.is_empty() => crate::repl::start(Options { node, ..options }),
            Ok(_) => usage_error("usage: xln repl [--node URL]", options.color),
            Err(message) => usage_error(&message, options.color),
        },
        "run" => {
            let (timeline, rest) = match take_option(rest, "--timeline") {
                Ok(split) => split,
                Err(message) => return usage_error(&message, options.color),
            };
            let (chain, rest) = match take_option(&rest, "--chain") {
                Ok(split) => split,
                Err(message) => return usage_error(&message, options.color),
            };
            let (store, rest) = match take_option(&rest, "--store") {
                Ok(split) => split,
                Err(message) => return usage_error(&message, options.color),
            };
            let (every, rest) = match take_option(&rest, "--snapshot-every") {
                Ok((Some(n), rest)) => match n.parse::<u64>() {
                    Ok(n) if n > 0 => (Some(n), rest),
                    _ => {
                        return usage_error(
                            "--snapshot-every needs a positive integer",
                            options.color,
                        )
                    }
                },
                Ok((None, rest)) => (None, rest),
                Err(message) => return usage_error(&message, options.color),
            };
            match rest.split_first() {
                Some((file, script_args)) => {
                    let options = Options {
                        timeline: timeline.map(Into::into),
                        chain,
                        store: store.map(Into::into),
                        snapshot_every: every,
                        ..options
                    };
                    run_file(Path::new(file), script_args.to_vec(), &options)
                }
                None => usage_error("`xln run` needs a FILE", options.color),
            }
        }
        "check" if !rest.is_empty() => check_files(rest, &options),
        "check" => usage_error("`xln check` needs at least one FILE", options.color),
        "eval" if !rest.is_empty() => eval_text(&rest.join(" "), &options),
        "eval" => usage_error("`xln eval` needs an expression", options.color),
        "bench" if rest.first().is_some_and(|b| b == "net") => crate::node::bench::command(&rest[1..]),
        "bench" => bench::run(rest.first().map(String::as_str).unwrap_or("all")),
        "doc" => doc(rest.first().map(String::as_str)),
        "arch" => arch::run(rest, &options),
        "snapshot" => store::snapshot_command(rest, options.color),
        "wal" => store::wal_command(rest, options.color),
        "node" => match rest {
            [config] => crate::node::run(Path::new(config)),
            _ => usage_error("`xln node` needs one CONFIG file", options.color),
        },
        "net" => net_command(rest, options.color),
        other if other.ends_with(".xln") => run_file(Path::new(other), rest.to_vec(), &options),
        other => usage_error(&format!("unknown command `{other}`"), options.color),
    }
}

/// `xln net up NETWORK.xln [--dir DIR]` and `xln net down [DIR]`.
fn net_command(args: &[String], color: bool) -> i32 {
    let (dir, rest) = match take_option(args, "--dir") {
        Ok(split) => split,
        Err(message) => return usage_error(&message, color),
    };
    let result = match rest.as_slice() {
        [cmd, file] if cmd == "up" => {
            let dir = dir.unwrap_or_else(|| "xln-net".into());
            crate::node::net::up(Path::new(file), Path::new(&dir))
        }
        [cmd, rest @ ..] if cmd == "down" && rest.len() <= 1 => {
            let dir = rest.first().cloned().or(dir).unwrap_or_else(|| "xln-net".into());
            crate::node::net::down(Path::new(&dir))
        }
        _ => return usage_error("usage: xln net up NETWORK.xln [--dir DIR] | xln net down [DIR]", color),
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

/// Removes `--name VALUE` from the arguments (anywhere before a lone `--`).
fn take_option(args: &[String], name: &str) -> Result<(Option<String>, Vec<String>), String> {
    let mut value = None;
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            rest.extend(it.cloned());
            break;
        }
        if a == name {
            value = Some(
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value"))?,
            );
        } else {
            rest.push(a.clone());
        }
    }
    Ok((value, rest))
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
