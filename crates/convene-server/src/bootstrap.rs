//! First-start setup: the admin token, a ready app with the default presets.

use convene_core::permissions::{Permissions, BUILT_IN_PRESETS};
use serde_json::json;

use crate::auth::{generate_secret, hash_secret, Scope};
use crate::model::App;
use crate::store::{Store, StoreResult};

/// The account of the app made at first start.
pub const DEFAULT_ACCOUNT: &str = "local";

/// Creates an app and its default presets in one go.
pub(crate) async fn create_app_with_presets(store: &dyn Store, account_id: &str, name: &str) -> StoreResult<App> {
    let app = store.create_app(account_id, name).await?;
    for preset in BUILT_IN_PRESETS {
        let permissions = Permissions::built_in(preset).expect("built-in preset");
        let view_type = if preset.starts_with("webinar") { "WEBINAR" } else { "GROUP_CALL" };
        let config = json!({
            "view_type": view_type,
            "max_screenshare_count": 1,
            "max_video_streams": {"desktop": 25, "mobile": 6},
            "media": {"video": {"quality": "vga", "frame_rate": 30}, "screenshare": {"quality": "hd", "frame_rate": 5}},
        });
        let permissions = serde_json::to_value(permissions)?;
        store.create_preset(&app.id, preset, &config, &permissions, &json!({})).await?;
    }
    Ok(app)
}

/// The shortest admin token accepted from `--admin-token` / `CONVENE_ADMIN_TOKEN`.
pub const MIN_ADMIN_TOKEN_LEN: usize = 32;

/// What a start prepared.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// A newly generated admin token (only on the first start without `--admin-token`).
    pub new_admin_token: Option<String>,
    /// Whether the given `--admin-token` was new to the store (false: it was known already).
    pub given_admin_token_added: bool,
    /// Admin tokens valid besides the given one (they stay valid until revoked with
    /// `convene-server token revoke ID`).
    pub other_admin_tokens: u64,
    /// The ready app's account and id.
    pub default_app: (String, String),
}

/// [`prepare`], once at a time across every node on the database: on PostgreSQL (`pg_pool`),
/// under an advisory lock, so that nodes starting together on an empty database make one default
/// app and one first admin token between them.
pub(crate) async fn prepare_shared(
    store: &dyn Store,
    pg_pool: Option<&deadpool_postgres::Pool>,
    admin_token: Option<&str>,
) -> StoreResult<Prepared> {
    match pg_pool {
        Some(pool) => {
            crate::store::postgres::holding_lock(
                pool,
                crate::store::postgres::BOOTSTRAP_LOCK,
                prepare(store, admin_token),
            )
            .await?
        }
        None => prepare(store, admin_token).await,
    }
}

/// Makes sure there is an admin token and a default app.
pub(crate) async fn prepare(store: &dyn Store, admin_token: Option<&str>) -> StoreResult<Prepared> {
    let mut new_admin_token = None;
    let mut given_admin_token_added = false;
    if let Some(token) = admin_token {
        given_admin_token_added = store.insert_token(&hash_secret(token), Scope::Admin, None, None).await?.1;
    } else if store.admin_token_count().await? == 0 {
        let token = generate_secret();
        store.insert_token(&hash_secret(&token), Scope::Admin, None, None).await?;
        new_admin_token = Some(token);
    }
    let other_admin_tokens = store.admin_token_count().await?.saturating_sub(u64::from(admin_token.is_some()));
    let app_id = match store.kv_get("default_app").await? {
        Some(id) => id,
        None => {
            let app = create_app_with_presets(store, DEFAULT_ACCOUNT, "Default app").await?;
            store.kv_set("default_app", &app.id).await?;
            app.id
        }
    };
    Ok(Prepared {
        new_admin_token,
        given_admin_token_added,
        other_admin_tokens,
        default_app: (DEFAULT_ACCOUNT.to_owned(), app_id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::postgres::test_postgres::TestPostgres;
    use crate::store::postgres::PgStore;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nodes_preparing_an_empty_postgres_database_together_make_one_default_app_and_one_admin_token() {
        let pg = TestPostgres::start();
        let mut nodes = Vec::new();
        for n in 0..3 {
            nodes.push(PgStore::connect(&pg.url(), &format!("node-{n}")).await.unwrap());
        }
        let prepared =
            futures_util::future::join_all(nodes.iter().map(|store| prepare_shared(store, Some(store.pool()), None)))
                .await;
        let prepared: Vec<Prepared> = prepared.into_iter().map(Result::unwrap).collect();
        let apps: Vec<&str> = prepared.iter().map(|p| p.default_app.1.as_str()).collect();
        assert!(apps.iter().all(|a| *a == apps[0]), "one default app for every node: {apps:?}");
        let made = prepared.iter().filter(|p| p.new_admin_token.is_some()).count();
        assert_eq!(made, 1, "one node made the first admin token");
        assert_eq!(nodes[0].admin_token_count().await.unwrap(), 1);
        let db = pg.connect().await;
        let stored: i64 = db.query_one("SELECT count(*) FROM apps", &[]).await.unwrap().get(0);
        assert_eq!(stored, 1, "one app stored");
    }
}
