//! `bastide`: the command-line program of the Bastide health data hub.

mod cli;
mod commands;
mod logging;
mod output;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than the system's allocator: the query engine allocates and frees
/// many small buffers per batch, and glibc's malloc spends a tenth of a query's time
/// there (measured with `perf` on the query benchmark).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Each runtime thread's stack.
const STACK_BYTES: usize = 64 << 20;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // Stacks deep enough for the deepest statement the guard lets through (see
    // `bastide_query::guard::MAX_OPERATORS`): reserved, committed only as used.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(STACK_BYTES)
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&anyhow::Error::new(e).context("cannot start the async runtime")),
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Prints the error as one line: each cause once, outermost first.
fn fail(error: &anyhow::Error) -> ExitCode {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !parts
            .last()
            .is_some_and(|previous| previous.contains(&text))
        {
            parts.push(text);
        }
    }
    eprintln!("error: {}", parts.join(": "));
    ExitCode::FAILURE
}
