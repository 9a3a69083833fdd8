//! The `xln` binary: everything lives in the library; see `xln --help`.

fn main() {
    // Rust ignores SIGPIPE, so printing into a closed pipe (`xln wal inspect DIR | head`)
    // would panic; like other command-line tools, end quietly instead.
    // SAFETY: restoring the default disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(xln::cli::run(args));
}
