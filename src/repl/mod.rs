//! The REPL: a `Session` that turns one complete input into printed output (testable
//! without a terminal), and the rustyline front end (history, multi-line input decided by
//! the real reader, completion, highlighting, Ctrl-C to interrupt evaluation).

mod helper;

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::Ordering;

use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{CompletionType, Config, Editor};

use crate::cli::Options;
use crate::error::{Failure, HostError};
use crate::lang::builtins::{find_primitive, tables};
use crate::lang::docs::{special_form_doc, SPECIAL_FORM_DOCS};
use crate::lang::eval::INTERRUPTED;
use crate::lang::printer::write_string;
use crate::lang::{Interp, Output, Value};

pub const REPL_COMMANDS: &[(&str, &str)] = &[
    (":help", "this list"),
    (":doc NAME", "documentation of a builtin or special form"),
    (":load FILE", "evaluate a file's forms here"),
    (":time EXPR", "evaluate and print how long it took"),
    (":env", "names you have defined in this session"),
    (":quit", "leave (Ctrl-D works too)"),
];

/// One REPL session's state, independent of the terminal.
pub struct Session {
    pub interp: Interp,
    pub color: bool,
}

/// What handling one input produced.
pub enum Reply {
    Text(String),
    Quit(i32),
}

impl Session {
    pub fn new(options: &Options) -> Session {
        let mut interp = Interp::new(options.limits.clone(), Output::stdout());
        interp.module = interp.modules.new_module("repl", None);
        if let Some(url) = &options.node {
            match crate::bindings::node::connect(&mut interp, url, None) {
                Ok(line) => println!("{line}"),
                Err(e) => eprintln!("xln: --node {url}: {e}"),
            }
        }
        Session {
            interp,
            color: options.color,
        }
    }

    /// Evaluates one complete input (forms or a `:command`) and returns what to print.
    pub fn handle(&mut self, input: &str) -> Reply {
        let trimmed = input.trim();
        if let Some(command) = trimmed.strip_prefix(':') {
            return self.command(command);
        }
        if trimmed.is_empty() {
            return Reply::Text(String::new());
        }
        self.evaluate(input, false)
    }

    fn evaluate(&mut self, text: &str, timed: bool) -> Reply {
        INTERRUPTED.store(false, Ordering::Relaxed);
        let start = std::time::Instant::now();
        let result = self.interp.eval_source("<repl>", text);
        let elapsed = start.elapsed();
        self.interp.out.flush();
        let mut out = match result {
            Ok(Value::Void) => String::new(),
            Ok(v) => format!("=> {}\n", write_string(&v)),
            Err(e) => {
                if let crate::lang::diagnostics::Control::Exit(code) = e.control {
                    return Reply::Quit(code);
                }
                Failure::Script(e).render(self.color)
            }
        };
        if timed {
            out.push_str(&format!(
                "time: {}\n",
                crate::bench::format_duration(elapsed)
            ));
        }
        Reply::Text(out)
    }

    fn command(&mut self, command: &str) -> Reply {
        let (name, arg) = command
            .split_once(char::is_whitespace)
            .map(|(a, b)| (a, b.trim()))
            .unwrap_or((command, ""));
        match name {
            "q" | "quit" | "exit" => Reply::Quit(0),
            "h" | "help" | "?" => {
                let mut text = String::from("Type expressions to evaluate them; an unfinished form continues on the next line.\n");
                for (c, what) in REPL_COMMANDS {
                    text.push_str(&format!("  {c:<12} {what}\n"));
                }
                text.push_str(
                    "Ctrl-C interrupts a running evaluation or clears the line; Ctrl-D exits.\n",
                );
                Reply::Text(text)
            }
            "doc" => Reply::Text(match doc_text(arg) {
                Some(t) => format!("{t}\n"),
                None => format!("no documentation for `{arg}`; try :env or :help\n"),
            }),
            "load" if !arg.is_empty() => match std::fs::read_to_string(arg) {
                Ok(text) => {
                    let reply = self.evaluate_file(arg, &text);
                    Reply::Text(reply)
                }
                Err(e) => Reply::Text(
                    Failure::Host(HostError::io(&format!("cannot read {arg}"), &e))
                        .render(self.color),
                ),
            },
            "time" if !arg.is_empty() => self.evaluate(arg, true),
            "env" => {
                let mut names: Vec<String> = self
                    .interp
                    .module
                    .defined
                    .borrow()
                    .iter()
                    .map(|s| s.name().to_string())
                    .collect();
                names.sort();
                names.dedup();
                Reply::Text(if names.is_empty() {
                    "nothing defined yet\n".into()
                } else {
                    format!("{}\n", names.join(" "))
                })
            }
            _ => Reply::Text(format!(
                "unknown command :{name}; :help lists the commands\n"
            )),
        }
    }

    fn evaluate_file(&mut self, path: &str, text: &str) -> String {
        match self.interp.eval_source(path, text) {
            Ok(_) => format!("loaded {path}\n"),
            Err(e) => Failure::Script(e).render(self.color),
        }
    }

    /// Names for tab completion: bound names plus REPL commands.
    pub fn completions(&self) -> Vec<String> {
        let mut names = self.interp.module.bound_names();
        names.extend(
            REPL_COMMANDS
                .iter()
                .map(|(c, _)| c.split_whitespace().next().unwrap_or(c).to_string()),
        );
        names
    }
}

/// Documentation text for `:doc` and `xln doc NAME`.
pub fn doc_text(name: &str) -> Option<String> {
    if let Some(d) = special_form_doc(name) {
        return Some(format!(
            "{} — special form\n  {}\n  example: {}",
            d.syntax, d.doc, d.example
        ));
    }
    find_primitive(name).map(|p| {
        let arity = match p.max_args {
            Some(m) if m == p.min_args => format!("{m}"),
            Some(m) => format!("{}..{m}", p.min_args),
            None => format!("{}+", p.min_args),
        };
        format!(
            "{} — procedure, {arity} argument(s)\n  {}\n  example: {}",
            p.name, p.doc, p.example
        )
    })
}

/// The generated part of lang/REFERENCE.md: every special form and builtin with an example.
pub fn reference_markdown() -> String {
    let mut out = String::from("## Special forms\n\n| form | meaning | example |\n|---|---|---|\n");
    for d in SPECIAL_FORM_DOCS {
        out.push_str(&format!(
            "| `{}` | {} | `{}` |\n",
            escape(d.syntax),
            escape(d.doc),
            escape(d.example)
        ));
    }
    for (title, table) in tables() {
        out.push_str(&format!(
            "\n## {title}\n\n| procedure | meaning | example |\n|---|---|---|\n"
        ));
        for p in table.iter().filter(|p| !p.name.starts_with('%')) {
            out.push_str(&format!(
                "| `{}` | {} | `{}` |\n",
                escape(p.name),
                escape(p.doc),
                escape(p.example)
            ));
        }
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('|', "\\|")
}

fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("XLN_HISTORY") {
        return Some(PathBuf::from(p));
    }
    if let Some(state) = std::env::var_os("XDG_STATE_HOME") {
        return Some(PathBuf::from(state).join("xln").join("history"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".xln_history"))
}

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

fn install_interrupt_handler() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t);
    }
}

/// Runs the interactive REPL on the terminal; returns the exit code.
pub fn start(options: Options) -> i32 {
    let mut session = Session::new(&options);
    let config = Config::builder()
        .auto_add_history(true)
        .completion_type(CompletionType::List)
        .max_history_size(10_000)
        .map(|b| b.build())
        .unwrap_or_default();
    let mut editor: Editor<helper::XlnHelper, FileHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("xln: cannot start the line editor: {e}");
            return 1;
        }
    };
    let names = Rc::new(RefCell::new(session.completions()));
    editor.set_helper(Some(helper::XlnHelper::new(names.clone(), options.color)));
    let history = history_path();
    if let Some(h) = &history {
        if let Some(dir) = h.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = editor.load_history(h);
    }
    install_interrupt_handler();
    println!(
        "xln {} — :help for commands, Ctrl-D to exit",
        env!("CARGO_PKG_VERSION")
    );
    let code = loop {
        match editor.readline("xln> ") {
            Ok(line) => {
                if let Some(h) = &history {
                    let _ = editor.append_history(h);
                }
                match session.handle(&line) {
                    Reply::Text(t) => print!("{t}"),
                    Reply::Quit(code) => break code,
                }
                *names.borrow_mut() = session.completions();
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break 0,
            Err(e) => {
                eprintln!("xln: terminal error: {e}");
                break 1;
            }
        }
    };
    code
}
