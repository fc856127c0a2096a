//! `convene-load`: fan-out, join, churn and big-room workloads against convene-server, with the
//! physical floor (a minimal tokio-tungstenite server writing one frame to every connection)
//! measured in the same run.
//!
//! ```text
//! convene-load kick-all --participants 1000 [--server-process] [--plot cdf.svg] [--json FILE]
//! convene-load kick-all --participants 10000 --server-process --no-participant-list
//! convene-load floor --participants 1000
//! convene-load join-storm --participants 1000
//! convene-load churn --participants 1000 --duration 60 --rate 10
//! convene-load big-room --participants 10000
//! convene-load soak --participants 1000 --duration 600
//! convene-load ... --server URL --admin-token T      # a running server
//! convene-load kick-all --participants 1000 --nodes 3 # three nodes (and one, in the same run)
//! convene-load join-storm --participants 1000 --nodes 3
//! convene-load takeover --participants 1000 --nodes 3 # SIGKILL of the owner, time to resume
//! convene-load ... --nodes 3 --postgres URL --redis URL  # on given engines (else throwaway ones)
//! ```

mod alloc;
mod big_room;
mod child;
mod churn;
mod cluster;
mod newcomer;
mod plot;
mod soak;
mod stats;
mod target;
// The server tests' throwaway PostgreSQL and Redis, for `--nodes` without given engines.
#[allow(dead_code)]
#[path = "../../convene-server/src/store/postgres/test_postgres.rs"]
mod test_postgres;
#[allow(dead_code)]
#[path = "../../convene-server/src/cluster/test_redis.rs"]
mod test_redis;
mod workloads;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use target::{ServerMode, Target};

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Workload {
    /// N joined participants; one REST kick-all; time until each sees roomLeft ended. Runs the
    /// floor with the same N in the same run and reports the ratio.
    KickAll,
    /// The floor alone: N connections to a minimal server writing one frame to each.
    Floor,
    /// N participants call join at once; time until all are joined.
    JoinStorm,
    /// N observers while others join and leave at --rate per second for --duration seconds:
    /// join-to-participantJoined latency, server CPU and memory (server in a child process).
    Churn,
    /// A session of N: server memory per peer, and a newcomer's roster snapshot (size, decode
    /// time, client memory per remote participant). Server in a child process.
    BigRoom,
    /// N participants join, stay, leave and come back for --duration seconds; afterwards the
    /// server's open files, tasks and rooms must be back to their baseline, with no error.
    /// Server in a child process.
    Soak,
    /// (`--nodes` 2 or more) N participants spread over the nodes in one session; the meeting's
    /// owner is killed; the time until every client has resumed on a node that lives, in the
    /// same session, holding everyone.
    Takeover,
    /// (Internal) an in-memory convene-server for a parent convene-load.
    #[value(hide = true)]
    Serve,
    /// (Internal) the floor server for a parent convene-load.
    #[value(hide = true)]
    ServeFloor,
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
    /// A running convene-server (default: one started by the tool).
    #[arg(long)]
    server: Option<String>,
    /// Admin API token of `--server`.
    #[arg(long, env = "CONVENE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Run the servers (Convene's and the floor's) in child processes instead of this one
    /// (always so for churn and big-room).
    #[arg(long)]
    server_process: bool,
    /// kick-all: participants get a preset without the participant list, so that no client
    /// holds a roster (for N = 10,000: N rosters of N do not fit in one process).
    #[arg(long)]
    no_participant_list: bool,
    /// churn and soak: seconds of joining and leaving.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// churn: joins per second.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// kick-all: draw the latency distributions of Convene and the floor to this SVG file.
    #[arg(long)]
    plot: Option<std::path::PathBuf>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// kick-all, join-storm, takeover: run against this many cluster nodes (child processes on
    /// one PostgreSQL and one Redis), client i on node i % N; kick-all and join-storm then also
    /// run against one node in the same run.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    nodes: u16,
    /// kick-all, join-storm: with `--nodes 1`, run on one cluster node (PostgreSQL and Redis, no
    /// relaying) rather than on one plain node.
    #[arg(long)]
    cluster: bool,
    /// With --nodes: the cluster's PostgreSQL (default: a throwaway one started here).
    #[arg(long, env = "CONVENE_POSTGRES_URL", hide_env_values = true)]
    postgres: Option<String>,
    /// With --nodes: the cluster's Redis (default: a throwaway one started here).
    #[arg(long, env = "CONVENE_REDIS_URL")]
    redis: Option<String>,
    /// serve: this node's name in a cluster (with --postgres, --redis and --admin-token).
    #[arg(long, hide = true)]
    node_id: Option<String>,
    /// serve-floor: the frame's length in bytes.
    #[arg(long, default_value_t = 160, hide = true)]
    frame_len: usize,
}

/// Raises the open-file limit to the hard limit.
fn raise_fd_limit() -> Option<u64> {
    let (_, hard) = rlimit::Resource::NOFILE.get().ok()?;
    rlimit::Resource::NOFILE.set(hard, hard).ok()?;
    Some(hard)
}

fn server_mode(cli: &Cli, isolate: bool) -> Result<ServerMode, String> {
    Ok(match &cli.server {
        Some(url) => ServerMode::Remote {
            url: url.clone(),
            admin_token: cli
                .admin_token
                .clone()
                .ok_or("--admin-token (or CONVENE_ADMIN_TOKEN) is needed with --server")?,
        },
        None if isolate => ServerMode::Child,
        None => ServerMode::InProcess,
    })
}

async fn run(cli: &Cli) -> Result<serde_json::Value, String> {
    let n = cli.participants;
    match cli.workload {
        Workload::Serve => {
            let node = match (&cli.postgres, &cli.redis, &cli.node_id, &cli.admin_token) {
                (Some(postgres), Some(redis), Some(node_id), Some(admin_token)) => Some(child::NodeOptions {
                    postgres: postgres.clone(),
                    redis: redis.clone(),
                    node_id: node_id.clone(),
                    admin_token: admin_token.clone(),
                }),
                (None, None, None, _) => None,
                _ => {
                    return Err("serve as a cluster node needs --postgres, --redis, --node-id and --admin-token".into())
                }
            };
            child::serve_convene(node).await.map(|_| serde_json::Value::Null)
        }
        Workload::KickAll | Workload::JoinStorm | Workload::Takeover if cli.nodes > 1 || cli.cluster => {
            on_cluster(cli).await
        }
        Workload::Takeover => Err("takeover needs --nodes 2 or more".into()),
        Workload::ServeFloor => child::serve_floor(cli.frame_len).await.map(|_| serde_json::Value::Null),
        Workload::Floor => {
            let p = stats::Percentiles::of(&workloads::floor(n, cli.frame_len, cli.server_process).await?);
            Ok(serde_json::json!({
                "workload": "floor", "participants": n,
                "floor_p50_ms": p.p50_ms, "floor_p99_ms": p.p99_ms, "floor_max_ms": p.max_ms,
            }))
        }
        Workload::KickAll => {
            let target = Target::new(server_mode(cli, cli.server_process)?).await?;
            let opts = workloads::KickAllOptions {
                isolate: cli.server_process,
                listless: cli.no_participant_list,
                plot: cli.plot.clone(),
            };
            workloads::kick_all(&target, n, opts, None).await
        }
        Workload::JoinStorm => {
            let target = Target::new(server_mode(cli, cli.server_process)?).await?;
            workloads::join_storm(&target, n, None).await
        }
        Workload::Churn => {
            if cli.rate <= 0.0 || cli.duration == 0 {
                return Err("--rate and --duration must be positive".into());
            }
            let target = Target::new(server_mode(cli, true)?).await?;
            let opts = churn::ChurnOptions {
                duration: Duration::from_secs(cli.duration),
                rate: cli.rate,
                stay: Duration::from_secs(5).min(Duration::from_secs(cli.duration)),
            };
            churn::churn(&target, n, opts).await
        }
        Workload::Soak => {
            let mut target = Target::new(server_mode(cli, true)?).await?;
            soak::soak(&mut target, n, Duration::from_secs(cli.duration)).await
        }
        Workload::BigRoom => {
            let mut target = Target::new(server_mode(cli, true)?).await?;
            big_room::big_room(&mut target, n).await
        }
    }
}

/// kick-all, join-storm or takeover on `--nodes` cluster nodes; kick-all and join-storm then
/// also against one node (in a child process, as the nodes are) in the same run.
async fn on_cluster(cli: &Cli) -> Result<serde_json::Value, String> {
    let n = cli.participants;
    let engines = cluster::Engines { postgres: cli.postgres.clone(), redis: cli.redis.clone() };
    let (mut nodes, target) = cluster::Cluster::start(usize::from(cli.nodes), engines).await?;
    let opts = || workloads::KickAllOptions { isolate: true, listless: cli.no_participant_list, plot: None };
    let (on_nodes, one) = match cli.workload {
        Workload::Takeover => return cluster::takeover(&mut nodes, &target, n).await,
        Workload::KickAll => {
            let on_nodes = workloads::kick_all(&target, n, opts(), Some(&nodes)).await?;
            let one = Target::new(ServerMode::Child).await?;
            (on_nodes, workloads::kick_all(&one, n, opts(), None).await?)
        }
        _ => {
            let on_nodes = workloads::join_storm(&target, n, Some(&nodes)).await?;
            let one = Target::new(ServerMode::Child).await?;
            (on_nodes, workloads::join_storm(&one, n, None).await?)
        }
    };
    Ok(serde_json::json!({ "nodes": cli.nodes, "on_nodes": on_nodes, "one_node": one }))
}

fn main() -> ExitCode {
    // Logs of the clients and the server in this process, to stderr, only when asked for
    // (`RUST_LOG=convene_client=debug,convene_server=debug`): a run's own output stays its figures.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    }
    let cli = Cli::parse();
    let limit = raise_fd_limit();
    let serving = matches!(cli.workload, Workload::Serve | Workload::ServeFloor);
    // In one process each participant needs two sockets (client and server side).
    // On a cluster the servers are children, but each connection passes a front door here (two).
    let per_participant = if cli.nodes > 1 {
        3
    } else if cli.server_process || matches!(cli.workload, Workload::Churn | Workload::BigRoom | Workload::Soak) {
        1
    } else {
        2
    };
    let needed = cli.participants as u64 * per_participant + 256;
    if !serving && limit.is_some_and(|l| l < needed) {
        eprintln!("convene-load: the open-file limit ({limit:?}) is below the {needed} this run needs");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("convene-load: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&cli)) {
        Ok(serde_json::Value::Null) => ExitCode::SUCCESS,
        Ok(result) => {
            if let serde_json::Value::Object(map) = &result {
                for (k, v) in map {
                    println!("{k:>32}  {v}");
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
