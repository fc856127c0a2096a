//! `convene-server`: the self-hostable Convene session server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use convene_server::limits::Limits;
use convene_server::webhook::WebhookOptions;
use convene_server::{DataLocation, ServerConfig, Timings};

/// Convene session server: RealtimeKit-compatible REST API, WebSocket signalling, SQLite store,
/// signed webhooks.
///
/// With no flags it listens on 127.0.0.1:8790 and keeps its data in ./convene-data. The first
/// start prints a generated admin API token and a ready app id; use them as
/// `Authorization: Bearer <token>` and in `/client/v4/accounts/<account>/realtime/kit/<app>/...`.
#[derive(Parser, Debug)]
#[command(name = "convene-server", version)]
struct Cli {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8790", global = true)]
    listen: SocketAddr,
    /// Data directory, or `:memory:` for a throwaway run.
    #[arg(long, default_value = "convene-data", global = true)]
    data: String,
    /// Accept this admin API token (kept hashed) instead of generating one.
    #[arg(long, env = "CONVENE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// URL clients use to reach this server (for download links).
    #[arg(long)]
    base_url: Option<String>,
    /// Seconds a disconnected participant may take to resume.
    #[arg(long, default_value_t = 60)]
    away_grace_secs: u64,
    /// Turn off the rate limits and the per-participant connection cap (for load tests, or
    /// behind a gateway that limits). The defaults are in `convene_server::limits::Limits`.
    #[arg(long)]
    no_rate_limits: bool,
    /// Allow webhooks to loopback, private and link-local addresses (receivers on this machine
    /// or network). Off by default: such URLs are refused at registration and at delivery.
    #[arg(long, env = "CONVENE_WEBHOOK_ALLOW_PRIVATE")]
    webhook_allow_private: bool,
    /// A PEM file of CA certificates to trust for `https://` webhooks, besides the system's.
    #[arg(long)]
    webhook_ca: Option<PathBuf>,
    /// Days delivered, failed and dropped webhook deliveries are kept before they are pruned.
    #[arg(long, default_value_t = 7)]
    outbox_retention_days: u64,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
}

#[derive(Subcommand, Debug)]
enum TokenAction {
    /// Create an API token and print it (it is stored hashed and cannot be shown again).
    Create {
        /// `admin` (everything), `realtime` (meetings, participants, sessions, recordings,
        /// webhooks; presets read-only) or `read` (GET only).
        #[arg(long)]
        scope: String,
        /// Limit the token to one app.
        #[arg(long)]
        app: Option<String>,
    },
}

fn data_location(data: &str) -> DataLocation {
    if data == ":memory:" {
        DataLocation::Memory
    } else {
        DataLocation::Dir(PathBuf::from(data))
    }
}

fn create_token(data: &str, scope: &str, app: Option<&str>) -> Result<String, String> {
    let scope = convene_server::auth::Scope::parse(scope).ok_or("scope must be admin, realtime or read")?;
    let DataLocation::Dir(dir) = data_location(data) else {
        return Err("tokens of an in-memory server cannot be created from outside it".into());
    };
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let store = convene_server::store::Store::open(Some(&dir.join("convene.db"))).map_err(|e| e.to_string())?;
    if let Some(app) = app {
        if store.app_account(app).map_err(|e| e.to_string())?.is_none() {
            return Err(format!("no app {app}"));
        }
    }
    let secret = convene_server::auth::generate_secret();
    store.insert_token(&convene_server::auth::hash_secret(&secret), scope.as_str(), app).map_err(|e| e.to_string())?;
    Ok(secret)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "convene_server=info".into()),
        )
        .init();
    let cli = Cli::parse();
    if let Some(Command::Token { action: TokenAction::Create { scope, app } }) = &cli.command {
        return match create_token(&cli.data, scope, app.as_deref()) {
            Ok(secret) => {
                println!("{secret}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("convene-server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let timings = Timings {
        away_grace: std::time::Duration::from_secs(cli.away_grace_secs),
        outbox_retention: std::time::Duration::from_secs(cli.outbox_retention_days.saturating_mul(24 * 3600)),
        ..Timings::default()
    };
    let config = ServerConfig {
        listen: cli.listen,
        data: data_location(&cli.data),
        admin_token: cli.admin_token.clone(),
        base_url: cli.base_url.clone(),
        timings,
        limits: if cli.no_rate_limits { Limits::off() } else { Limits::default() },
        webhooks: WebhookOptions { allow_private: cli.webhook_allow_private, ca_file: cli.webhook_ca.clone() },
    };
    let server = match convene_server::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("convene-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (account, app) = &server.default_app;
    println!("convene-server listening on {}", server.url());
    println!("  REST API:   {}/client/v4/accounts/{account}/realtime/kit/{app}/...", server.url());
    println!("  OpenAPI:    {}/client/v4/openapi.json", server.url());
    println!("  signalling: ws://{}/v1/signal", server.addr);
    if server.admin_token_is_new {
        println!("  admin API token (shown once, stored hashed): {}", server.admin_token);
    } else if cli.admin_token.is_none() {
        println!("  admin API token: the one printed at first start (or create one: convene-server token create --scope admin)");
    }
    println!("  ready app: account {account}, app {app} (presets group_call_host, group_call_participant, webinar_presenter, webinar_viewer)");
    wait_for_signal().await;
    println!("shutting down");
    server.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(t) => t,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
