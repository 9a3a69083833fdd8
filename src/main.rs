//! The `xln` binary: everything lives in the library; see `xln --help`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(xln::cli::run(args));
}
