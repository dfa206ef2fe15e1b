//! Standard output that answers with an error where `print!` panics: a closed pipe
//! (`drctl drill ... | head -1`) or a full disk (`>/dev/full`).
//!
//! drctl keeps SIGPIPE ignored (Rust's default) rather than restoring its default action, which
//! would take unsafe code and end the process at any closed pipe: with `--json`, a closed stderr
//! (the progress) must not cost the report on stdout. A full disk has to be handled anyway. What
//! a Unix tool does on a closed standard output is done by the callers of [`failed`]: stop at
//! once, quietly.

use std::io::{self, Write};

use serde::Serialize;

use crate::exit::Exit;

/// Writes `text` to standard output and flushes it.
pub fn print(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// `value` as pretty JSON and a newline on standard output.
pub fn print_json(value: &impl Serialize) -> io::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// How a command ends when standard output failed: on a closed pipe quietly, with the status a
/// shell reports for a tool that SIGPIPE ended (141); otherwise (a full disk) with one line on
/// stderr and exit 4.
pub fn failed(e: &io::Error) -> Exit {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Exit::OutputClosed
    } else {
        // stderr may be gone too: nothing more can be said then.
        let _ = writeln!(io::stderr(), "drctl: cannot write to standard output: {e}");
        Exit::Infrastructure
    }
}
