//! The `meshdoc` binary: parse arguments, run, map the outcome to an exit code
//! (0 clean, 1 findings at or above the threshold, 2 meshdoc failed).

use std::process::ExitCode;

fn main() -> ExitCode {
    match meshdoc::cli::main() {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            if meshdoc::cli::is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            let _ = anstream_eprint(&e);
            ExitCode::from(2)
        }
    }
}

fn anstream_eprint(e: &anyhow::Error) -> std::io::Result<()> {
    use std::io::Write;
    let mut err = anstream::stderr();
    write!(err, "meshdoc: error: {e}")?;
    for cause in e.chain().skip(1) {
        write!(err, "\n  caused by: {cause}")?;
    }
    writeln!(err)
}
