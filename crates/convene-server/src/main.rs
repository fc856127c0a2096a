//! `convene-server`: the self-hostable Convene session server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use convene_server::client_addr::ForwardedHeader;
use convene_server::limits::{Limits, TrustedProxies};
use convene_server::serve::TlsFiles;
use convene_server::store::Store;
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
    /// Accept this admin API token (kept hashed; at least 32 characters) instead of generating
    /// one. Prefer the environment variable: a flag is visible in the process list. Tokens given
    /// on earlier starts stay valid until revoked (`token list`, `token revoke`).
    #[arg(long, env = "CONVENE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// URL clients use to reach this server (for download links).
    #[arg(long)]
    base_url: Option<String>,
    /// Seconds a disconnected participant may take to resume.
    #[arg(long, default_value_t = 60)]
    away_grace_secs: u64,
    /// Seconds one webhook delivery attempt may take (in a cluster, a node that dies
    /// mid-delivery leaves its claim on the delivery for three times this before another node
    /// sends it again).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    webhook_timeout_secs: u64,
    /// Turn off the rate limits and the per-participant connection cap (for load tests, or
    /// behind a gateway that limits). The defaults are in `convene_server::limits::Limits`.
    #[arg(long)]
    no_rate_limits: bool,
    /// A reverse proxy in front of this server, as an address or CIDR network (repeatable):
    /// requests from it take the client's address from `Forwarded` or `X-Forwarded-For`, so
    /// that the per-IP limits count clients rather than the proxy (docs/deploy.md).
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    trusted_proxies: Vec<TrustedProxies>,
    /// The header the trusted proxies name the client in: `x-forwarded-for` (nginx, Caddy) or
    /// `forwarded` (RFC 7239). Only that one is read; make sure the proxy writes it.
    #[arg(long, value_enum, default_value_t = ForwardedHeaderArg::XForwardedFor)]
    forwarded_header: ForwardedHeaderArg,
    /// Allow webhooks to loopback, private and link-local addresses (receivers on this machine
    /// or network). Off by default: such URLs are refused at registration and at delivery.
    #[arg(long, env = "CONVENE_WEBHOOK_ALLOW_PRIVATE")]
    webhook_allow_private: bool,
    /// A PEM file of CA certificates to trust for `https://` webhooks, besides the system's.
    #[arg(long)]
    webhook_ca: Option<PathBuf>,
    /// Serve HTTPS and WSS with this certificate chain (PEM), for deployments without a TLS
    /// proxy in front. Needs --tls-key.
    #[arg(long, requires = "tls_key", env = "CONVENE_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert", env = "CONVENE_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Days delivered, failed and dropped webhook deliveries are kept before they are pruned.
    #[arg(long, default_value_t = 7)]
    outbox_retention_days: u64,
    /// Keep everything in this PostgreSQL database (`postgres://user[:password]@host:port/db`)
    /// instead of SQLite in --data (which then holds only recordings). Its schema is migrated at
    /// start. Needs --node-id. Several nodes on one database need --redis as well (cluster mode:
    /// see docs/cluster.md).
    #[arg(long, env = "CONVENE_POSTGRES_URL", hide_env_values = true, requires = "node_id", global = true)]
    postgres: Option<String>,
    /// This node's name on the PostgreSQL database: the same across its restarts.
    #[arg(long, env = "CONVENE_NODE_ID", requires = "postgres", global = true)]
    node_id: Option<String>,
    /// Run as a node of a cluster: the nodes on one PostgreSQL (--postgres) talk through this
    /// Redis (`redis://host:port`). Each meeting's room runs on the node that owns it; the others
    /// route its REST commands and relay its clients to it.
    #[arg(long, env = "CONVENE_REDIS_URL", hide_env_values = true, requires = "postgres")]
    redis: Option<String>,
    /// Serve `GET /metrics` (Prometheus / OpenMetrics text) on this address, with `/healthz`
    /// and `/readyz`. Keep it private (loopback or an internal network): without this flag
    /// there is no metrics endpoint at all.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// `text` (for people, on standard output) or `json` (one object per line on standard
    /// error, with the REST request's `request_id` and the room's `meeting_id` on the lines
    /// written on their behalf).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

/// `--forwarded-header`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ForwardedHeaderArg {
    /// `X-Forwarded-For`.
    XForwardedFor,
    /// RFC 7239 `Forwarded`.
    Forwarded,
}

impl From<ForwardedHeaderArg> for ForwardedHeader {
    fn from(arg: ForwardedHeaderArg) -> Self {
        match arg {
            ForwardedHeaderArg::XForwardedFor => ForwardedHeader::XForwardedFor,
            ForwardedHeaderArg::Forwarded => ForwardedHeader::Forwarded,
        }
    }
}

/// How log lines are written.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// JSON objects, one per line.
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Copy the data directory (--data) into DEST while the server runs: the database (one
    /// consistent snapshot) and the webhook signing key, not the recordings. DEST is a data
    /// directory: restore by starting a server with `--data DEST`. SQLite only (on PostgreSQL,
    /// use pg_dump).
    Backup {
        /// A new or empty directory.
        dest: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum TokenAction {
    /// Create an API token and print it (it is stored hashed and cannot be shown again; its id,
    /// for `token revoke`, goes to standard error).
    Create {
        /// `admin` (everything), `realtime` (meetings, participants, sessions, recordings,
        /// webhooks; presets read-only) or `read` (GET only).
        #[arg(long)]
        scope: String,
        /// The account the token belongs to: it reaches only that account's apps.
        #[arg(long, required_unless_present_any = ["app", "all_accounts"])]
        account: Option<String>,
        /// Limit the token to one app (and so to the app's account).
        #[arg(long)]
        app: Option<String>,
        /// A token for every account (the operator's own), instead of --account or --app.
        #[arg(long, conflicts_with_all = ["account", "app"])]
        all_accounts: bool,
    },
    /// List the API tokens: id, scope, account, app, creation time (never the secrets).
    List,
    /// Revoke an API token by id: it stops working at once.
    Revoke {
        /// The token's id, as `token list` shows it.
        id: String,
    },
}

fn data_location(data: &str) -> DataLocation {
    if data == ":memory:" {
        DataLocation::Memory
    } else {
        DataLocation::Dir(PathBuf::from(data))
    }
}

/// The node on PostgreSQL that the flags name, if any.
fn postgres_node(cli: &Cli) -> Option<convene_server::PostgresNode> {
    let (url, node_id) = (cli.postgres.clone()?, cli.node_id.clone()?);
    Some(convene_server::PostgresNode { url, node_id })
}

/// The store the flags name, for the token commands (which run beside a running server): the
/// PostgreSQL database, or the data directory's SQLite file.
async fn open_store(cli: &Cli) -> Result<Arc<dyn Store>, String> {
    if let Some(node) = postgres_node(cli) {
        return convene_server::postgres_store(&node).await.map_err(|e| e.to_string());
    }
    let DataLocation::Dir(dir) = data_location(&cli.data) else {
        return Err("the tokens of an in-memory server cannot be managed from outside it".into());
    };
    convene_server::files::private_dir(&dir).map_err(|e| e.to_string())?;
    let db = dir.join("convene.db");
    convene_server::files::private_database(&db).map_err(|e| e.to_string())?;
    let sqlite = convene_server::store::SqliteStore::open(Some(&db)).map_err(|e| e.to_string())?;
    Ok(Arc::new(sqlite))
}

async fn create_token(cli: &Cli, scope: &str, account: Option<&str>, app: Option<&str>) -> Result<String, String> {
    let scope = convene_server::auth::Scope::parse(scope).ok_or("scope must be admin, realtime or read")?;
    let store = open_store(cli).await?;
    let mut account = account.map(str::to_owned);
    if let Some(app) = app {
        let Some(owner) = store.app_account(app).await.map_err(|e| e.to_string())? else {
            return Err(format!("no app {app}"));
        };
        if account.as_ref().is_some_and(|a| *a != owner) {
            return Err(format!("app {app} belongs to account {owner}, not {}", account.unwrap_or_default()));
        }
        account = Some(owner);
    }
    let secret = convene_server::auth::generate_secret();
    let hash = convene_server::auth::hash_secret(&secret);
    let (record, _) = store.insert_token(&hash, scope, account.as_deref(), app).await.map_err(|e| e.to_string())?;
    eprintln!("token id {} (revoke with: convene-server token revoke {})", record.id, record.id);
    Ok(secret)
}

async fn token_command(cli: &Cli, action: &TokenAction) -> Result<(), String> {
    match action {
        TokenAction::Create { scope, account, app, all_accounts: _ } => {
            println!("{}", create_token(cli, scope, account.as_deref(), app.as_deref()).await?);
        }
        TokenAction::List => {
            let store = open_store(cli).await?;
            println!("{:<36}  {:<8}  {:<20}  {:<36}  created", "id", "scope", "account", "app");
            for t in store.list_tokens().await.map_err(|e| e.to_string())? {
                let r = &t.record;
                let account = r.account_id.as_deref().unwrap_or("(all)");
                let app = r.app_id.as_deref().unwrap_or("(all)");
                println!("{:<36}  {:<8}  {account:<20}  {app:<36}  {}", r.id, r.scope, t.created_at);
            }
        }
        TokenAction::Revoke { id } => {
            let store = open_store(cli).await?;
            if !store.revoke_token(id).await.map_err(|e| e.to_string())? {
                return Err(format!("no token {id}"));
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}

fn backup_command(cli: &Cli, dest: &std::path::Path) -> Result<(), String> {
    if cli.postgres.is_some() {
        return Err("the store is PostgreSQL: back it up with pg_dump (docs/deploy.md)".into());
    }
    let DataLocation::Dir(data) = data_location(&cli.data) else {
        return Err("an in-memory server has nothing to back up".into());
    };
    let done = convene_server::backup::backup(&data, dest).map_err(|e| e.to_string())?;
    println!("backed up {} to {}", data.display(), done.database.display());
    if let Some(key) = done.webhook_key {
        println!("  webhook signing key: {}", key.display());
    }
    println!("  restore: convene-server --data {}", dest.display());
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter =
        || tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "convene_server=info".into());
    match cli.log_format {
        LogFormat::Text => tracing_subscriber::fmt().with_env_filter(filter()).init(),
        // To standard error, apart from the banner on standard output: every line a JSON object.
        LogFormat::Json => {
            tracing_subscriber::fmt().json().with_writer(std::io::stderr).with_env_filter(filter()).init()
        }
    }
    if let Some(Command::Backup { dest }) = &cli.command {
        return match backup_command(&cli, dest) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("convene-server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::Token { action }) = &cli.command {
        return match token_command(&cli, action).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("convene-server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let timings = Timings {
        away_grace: std::time::Duration::from_secs(cli.away_grace_secs),
        webhook_attempt_timeout: std::time::Duration::from_secs(cli.webhook_timeout_secs),
        outbox_retention: std::time::Duration::from_secs(cli.outbox_retention_days.saturating_mul(24 * 3600)),
        ..Timings::default()
    };
    let config = ServerConfig {
        listen: cli.listen,
        data: data_location(&cli.data),
        admin_token: cli.admin_token.clone(),
        base_url: cli.base_url.clone(),
        timings,
        limits: Limits {
            trusted_proxies: cli
                .trusted_proxies
                .iter()
                .cloned()
                .fold(TrustedProxies::none(), TrustedProxies::and)
                .reading(cli.forwarded_header.into()),
            ..if cli.no_rate_limits { Limits::off() } else { Limits::default() }
        },
        webhooks: WebhookOptions { allow_private: cli.webhook_allow_private, ca_file: cli.webhook_ca.clone() },
        tls: match (&cli.tls_cert, &cli.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert: cert.clone(), key: key.clone() }),
            _ => None,
        },
        postgres: postgres_node(&cli),
        redis: cli.redis.clone(),
        metrics_listen: cli.metrics_listen,
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
    println!("  signalling: {}", server.signal_url());
    let prepared = &server.prepared;
    if server.admin_token_is_new {
        println!("  admin API token (shown once, stored hashed): {}", server.admin_token);
    } else if cli.admin_token.is_none() {
        println!("  admin API token: the one printed at first start (or create one: convene-server token create --scope admin)");
    } else {
        let what = if prepared.given_admin_token_added { "added" } else { "already known" };
        println!("  admin API token from --admin-token / CONVENE_ADMIN_TOKEN: {what}");
    }
    if cli.admin_token.is_some() && prepared.other_admin_tokens > 0 {
        println!(
            "  {} other admin token(s) are still valid: review them with `convene-server token list`, revoke with `convene-server token revoke ID`",
            prepared.other_admin_tokens
        );
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
