//! `xln arch`: prints the architecture tree; `--dot [FILE]` writes Graphviz DOT of the
//! layers; `--script S` first runs script S and adds its live account network (to
//! FILE's `.network.dot` sibling, or after the layers on stdout); `--svg FILE` renders the
//! same through Graphviz's `dot` when it is on PATH.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{report, usage_error, Options};
use crate::arch;
use crate::error::HostError;
use crate::lang::{Interp, Output};

/// What `xln arch` was asked for.
#[derive(Default)]
struct Request {
    dot: Option<Option<PathBuf>>,
    svg: Option<PathBuf>,
    script: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Request, String> {
    let mut request = Request::default();
    let mut i = 0;
    while i < args.len() {
        let value = args
            .get(i + 1)
            .filter(|v| !v.starts_with("--"))
            .map(PathBuf::from);
        match args[i].as_str() {
            "--dot" => {
                i += usize::from(value.is_some());
                request.dot = Some(value);
            }
            "--svg" => {
                request.svg = Some(value.ok_or("--svg needs a FILE")?);
                i += 1;
            }
            "--script" => {
                request.script = Some(value.ok_or("--script needs a FILE")?);
                i += 1;
            }
            other => return Err(format!("unknown `xln arch` argument `{other}`")),
        }
        i += 1;
    }
    Ok(request)
}

/// Runs `xln arch ARGS`; returns the exit code.
pub fn run(args: &[String], options: &Options) -> i32 {
    let request = match parse(args) {
        Ok(r) => r,
        Err(message) => return usage_error(&message, options.color),
    };
    let architecture = arch::architecture();
    if request.dot.is_none() && request.svg.is_none() {
        print!("{}", arch::tree(&architecture));
        return 0;
    }
    let layers = arch::layers_dot(&architecture);
    let network = match &request.script {
        Some(script) => match live_network(script, options) {
            Ok(dot) => Some(dot),
            Err(code) => return code,
        },
        None => None,
    };
    let outcome = match (&request.dot, &request.svg) {
        (Some(None), _) => {
            print!("{layers}{}", network.clone().unwrap_or_default());
            Ok(())
        }
        (Some(Some(file)), _) => write_pair(file, &layers, network.as_deref(), write_text),
        _ => Ok(()),
    }
    .and_then(|()| match &request.svg {
        Some(file) => write_pair(file, &layers, network.as_deref(), render_svg),
        None => Ok(()),
    });
    match outcome {
        Ok(()) => 0,
        Err(e) => report(e.into(), options.color),
    }
}

/// Writes the layers to `file` and the network (if any) to its `.network.<ext>` sibling.
fn write_pair(
    file: &Path,
    layers: &str,
    network: Option<&str>,
    write: fn(&Path, &str) -> Result<(), HostError>,
) -> Result<(), HostError> {
    write(file, layers)?;
    if let Some(dot) = network {
        let ext = file
            .extension()
            .map_or_else(|| "dot".into(), |e| e.to_string_lossy());
        write(&file.with_extension(format!("network.{ext}")), dot)?;
    }
    Ok(())
}

fn write_text(file: &Path, text: &str) -> Result<(), HostError> {
    std::fs::write(file, text)
        .map_err(|e| HostError::io(&format!("cannot write {}", file.display()), &e))
}

/// Renders DOT to SVG with Graphviz's `dot`, or says clearly that it is missing.
fn render_svg(file: &Path, dot: &str) -> Result<(), HostError> {
    let source = file.with_extension("dot.tmp");
    write_text(&source, dot)?;
    let status = Command::new("dot")
        .arg("-Tsvg")
        .arg("-o")
        .arg(file)
        .arg(&source)
        .status();
    let _ = std::fs::remove_file(&source);
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(HostError::new(
            crate::error::HostCode::Io,
            format!("Graphviz `dot` failed ({s}) writing {}", file.display()),
        )),
        Err(_) => Err(HostError::new(
            crate::error::HostCode::Io,
            "Graphviz `dot` is not on PATH, so no SVG was written",
        )
        .with_help(
            "install graphviz, or write DOT with `xln arch --dot FILE` and render it elsewhere",
        )),
    }
}

/// Runs `script` (its output discarded) and returns its account network as DOT, or the exit
/// code of its failure.
fn live_network(script: &Path, options: &Options) -> Result<String, i32> {
    let text = std::fs::read_to_string(script).map_err(|e| {
        let what = format!("cannot read {}", script.display());
        report(HostError::io(&what, &e).into(), options.color)
    })?;
    let mut interp = Interp::new(options.limits.clone(), Output::captured());
    interp.module = interp
        .modules
        .new_module("main", Some(script.to_path_buf()));
    interp
        .eval_source(&script.display().to_string(), &text)
        .map_err(|e| report(e.into(), options.color))?;
    let edges = crate::bindings::arch::network_edges(&mut interp);
    Ok(arch::network_dot(&edges))
}
