//! The `clearway` binary: `serve` (default), `migrate`, `create-supervisor`, `seed-demo`.

use std::process::ExitCode;

fn main() -> ExitCode {
    match clearway::cli::main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A readable chain of causes, never a panic backtrace.
            eprintln!("clearway: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
