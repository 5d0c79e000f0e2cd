//! `vf`, vectorflow's command line: train, predict with and inspect sparse shallow nets
//! from the shell (see docs/cli.md). Every error is one line on stderr, with exit code 2
//! for usage and specs and 1 for data.

mod args;
mod data;
mod error;
mod explain;
mod inspect;
mod metrics;
mod optimizers;
mod predict;
mod rate;
mod rows;
mod train;
mod tune;

use args::{Cli, Command};
use clap::Parser;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("vf: error: {}", one_line(&e.to_string()));
            std::process::exit(2);
        }
    };
    let result = match &cli.command {
        Command::Train(a) => train::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Tune(a) => tune::run(a),
    };
    if let Err(e) = result {
        eprintln!("vf: error: {e}");
        std::process::exit(e.code());
    }
}

/// Clap's error text (the error, a usage block, tips) as one line: the error and its
/// tips, then where help is.
fn one_line(text: &str) -> String {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default();
    let mut out = first.strip_prefix("error: ").unwrap_or(first).to_string();
    for tip in lines.filter(|l| l.starts_with("tip: ")) {
        out.push_str(&format!(" ({tip})"));
    }
    out.push_str("; see vf --help");
    out
}
