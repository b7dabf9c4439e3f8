//! `ballast`: the command line. Each subcommand lives in `cmd/<name>.rs`.

use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;

mod cmd;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// Ballast: low-latency, event-driven automated position sizing.
#[derive(Debug, Parser)]
#[command(name = "ballast", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    // subcommands: one variant per file in cmd/
}

fn main() -> std::process::ExitCode {
    if let Err(msg) = cpu_check() {
        eprintln!("ballast: {msg}");
        return std::process::ExitCode::from(2);
    }
    let cli = Cli::parse();
    let result: anyhow::Result<()> = match cli.command {};
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ballast: error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

/// Ballast is built for x86-64-v3; refuse to run (instead of dying on SIGILL) on a CPU without
/// AVX2 and FMA.
fn cpu_check() -> Result<(), String> {
    #[cfg(target_arch = "x86_64")]
    {
        let missing: Vec<&str> = [
            ("avx2", std::arch::is_x86_feature_detected!("avx2")),
            ("fma", std::arch::is_x86_feature_detected!("fma")),
            ("bmi2", std::arch::is_x86_feature_detected!("bmi2")),
        ]
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(n, _)| *n)
        .collect();
        if !missing.is_empty() {
            return Err(format!(
                "this CPU lacks {} required by this build (x86-64-v3); rebuild without \
                 `-C target-cpu=x86-64-v3` in .cargo/config.toml",
                missing.join(", ")
            ));
        }
    }
    Ok(())
}
