//! `convene-load`: fan-out and join workloads against convene-server, with the physical floor (a
//! minimal tokio-tungstenite server writing one frame to every connection) measured in the same
//! run.
//!
//! ```text
//! convene-load kick-all --participants 1000 [--server URL --admin-token T] [--json FILE]
//! convene-load floor --participants 1000
//! convene-load join-storm --participants 1000
//! ```

mod stats;
mod target;
mod workloads;

use std::process::ExitCode;

use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Workload {
    /// N joined participants; one REST kick-all; time until each sees roomLeft ended. Runs the
    /// floor with the same N in the same run and reports the ratio.
    KickAll,
    /// The floor alone: N connections to a minimal server writing one frame to each.
    Floor,
    /// N participants call join at once; time until all are joined.
    JoinStorm,
}

/// Load tool for Convene.
#[derive(Parser, Debug)]
#[command(name = "convene-load")]
struct Cli {
    /// The workload.
    workload: Workload,
    /// Participants (connections).
    #[arg(long, default_value_t = 100)]
    participants: usize,
    /// A running convene-server (default: one started in this process, in-memory).
    #[arg(long)]
    server: Option<String>,
    /// Admin API token of `--server`.
    #[arg(long, env = "CONVENE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

/// Raises the open-file limit to the hard limit (each participant uses two sockets in-process).
fn raise_fd_limit() -> Option<u64> {
    let (_, hard) = rlimit::Resource::NOFILE.get().ok()?;
    rlimit::Resource::NOFILE.set(hard, hard).ok()?;
    Some(hard)
}

async fn run(cli: &Cli) -> Result<serde_json::Value, String> {
    let n = cli.participants;
    match cli.workload {
        Workload::Floor => {
            let p = workloads::floor(n, 160).await?;
            Ok(serde_json::json!({
                "workload": "floor", "participants": n,
                "floor_p50_ms": p.p50_ms, "floor_p99_ms": p.p99_ms, "floor_max_ms": p.max_ms,
            }))
        }
        Workload::KickAll => {
            let target = target::Target::new(cli.server.clone(), cli.admin_token.clone()).await?;
            workloads::kick_all(&target, n).await
        }
        Workload::JoinStorm => {
            let target = target::Target::new(cli.server.clone(), cli.admin_token.clone()).await?;
            workloads::join_storm(&target, n).await
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let limit = raise_fd_limit();
    let needed = cli.participants as u64 * 2 + 64;
    if limit.is_some_and(|l| l < needed) {
        eprintln!("convene-load: the open-file limit ({limit:?}) is below the {needed} this run needs");
        return ExitCode::FAILURE;
    }
    match run(&cli).await {
        Ok(result) => {
            if let serde_json::Value::Object(map) = &result {
                for (k, v) in map {
                    println!("{k:>22}  {v}");
                }
            }
            if let Some(path) = &cli.json {
                if let Err(e) = std::fs::write(path, format!("{result:#}\n")) {
                    eprintln!("convene-load: writing {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("convene-load: {e}");
            ExitCode::FAILURE
        }
    }
}
