//! Settings, apps and API tokens in PostgreSQL.

use tokio_postgres::Row;

use super::PgStore;
use crate::auth::Scope;
use crate::model::App;
use crate::store::{new_id, now_rfc3339, StoreResult, TokenRecord, TokenRow};

fn app(r: &Row) -> App {
    App { id: r.get(0), name: r.get(1), created_at: r.get(2) }
}

fn token(r: &Row) -> TokenRecord {
    TokenRecord { id: r.get(0), scope: r.get(1), app_id: r.get(2), account_id: r.get(3) }
}

impl PgStore {
    /// A value of the key-value table (server settings such as the participant token key).
    pub(crate) async fn kv_get(&self, key: &str) -> StoreResult<Option<String>> {
        let row = self.client().await?.query_opt("SELECT value FROM kv WHERE key = $1", &[&key]).await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Sets a value of the key-value table.
    pub(crate) async fn kv_set(&self, key: &str, value: &str) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&key, &value],
            )
            .await?;
        Ok(())
    }

    /// The value of `key`, set to `value` first if it has none: nodes starting at once all end
    /// up with the one value the first of them wrote (the participant-token key, the webhook
    /// signing key).
    pub(crate) async fn kv_get_or_insert(&self, key: &str, value: &str) -> StoreResult<String> {
        let client = self.client().await?;
        client
            .execute("INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", &[&key, &value])
            .await?;
        Ok(client.query_one("SELECT value FROM kv WHERE key = $1", &[&key]).await?.get(0))
    }

    /// Creates an app under an account.
    pub(crate) async fn create_app(&self, account_id: &str, name: &str) -> StoreResult<App> {
        let app = App { id: new_id(), name: name.to_owned(), created_at: now_rfc3339() };
        self.client()
            .await?
            .execute(
                "INSERT INTO apps (id, account_id, name, created_at) VALUES ($1, $2, $3, $4)",
                &[&app.id, &account_id, &app.name, &app.created_at],
            )
            .await?;
        Ok(app)
    }

    /// An app, only if it belongs to `account_id`.
    pub(crate) async fn get_app(&self, account_id: &str, app_id: &str) -> StoreResult<Option<App>> {
        let sql = "SELECT id, name, created_at FROM apps WHERE id = $1 AND account_id = $2";
        Ok(self.client().await?.query_opt(sql, &[&app_id, &account_id]).await?.as_ref().map(app))
    }

    /// The apps of an account, oldest first.
    pub(crate) async fn list_apps(&self, account_id: &str) -> StoreResult<Vec<App>> {
        let sql = "SELECT id, name, created_at FROM apps WHERE account_id = $1 ORDER BY created_at, seq";
        Ok(self.client().await?.query(sql, &[&account_id]).await?.iter().map(app).collect())
    }

    /// The account an app belongs to.
    pub(crate) async fn app_account(&self, app_id: &str) -> StoreResult<Option<String>> {
        let row = self.client().await?.query_opt("SELECT account_id FROM apps WHERE id = $1", &[&app_id]).await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// An app's name.
    pub(crate) async fn app_name(&self, app_id: &str) -> StoreResult<Option<String>> {
        let row = self.client().await?.query_opt("SELECT name FROM apps WHERE id = $1", &[&app_id]).await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Stores an API token by the hash of its secret. Storing a known secret again changes
    /// nothing; the answer says whether it was new.
    pub(crate) async fn insert_token(
        &self,
        hash: &str,
        scope: Scope,
        account_id: Option<&str>,
        app_id: Option<&str>,
    ) -> StoreResult<(TokenRecord, bool)> {
        let record = TokenRecord::new(scope, account_id, app_id);
        let added = self
            .client()
            .await?
            .execute(
                "INSERT INTO api_tokens (id, hash, scope, app_id, account_id, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (hash) DO NOTHING",
                &[&record.id, &hash, &record.scope, &app_id, &account_id, &now_rfc3339()],
            )
            .await?
            == 1;
        Ok((record, added))
    }

    /// The token with this secret hash.
    pub(crate) async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<TokenRecord>> {
        let sql = "SELECT id, scope, app_id, account_id FROM api_tokens WHERE hash = $1";
        Ok(self.client().await?.query_opt(sql, &[&hash]).await?.as_ref().map(token))
    }

    /// Every API token, oldest first.
    pub(crate) async fn list_tokens(&self) -> StoreResult<Vec<TokenRow>> {
        let sql = "SELECT id, scope, app_id, account_id, created_at FROM api_tokens ORDER BY created_at, seq";
        let rows = self.client().await?.query(sql, &[]).await?;
        Ok(rows.iter().map(|r| TokenRow { record: token(r), created_at: r.get(4) }).collect())
    }

    /// Deletes an API token by id; it stops working at once. Returns whether it existed.
    pub(crate) async fn revoke_token(&self, id: &str) -> StoreResult<bool> {
        Ok(self.client().await?.execute("DELETE FROM api_tokens WHERE id = $1", &[&id]).await? == 1)
    }

    /// How many admin tokens exist.
    pub(crate) async fn admin_token_count(&self) -> StoreResult<u64> {
        let row = self.client().await?.query_one("SELECT count(*) FROM api_tokens WHERE scope = 'admin'", &[]).await?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::postgres::test_postgres::TestPostgres;

    #[tokio::test]
    async fn settings_apps_and_tokens_are_kept_and_read_as_the_sqlite_store_does() {
        let pg = TestPostgres::start();
        let store = PgStore::connect(&pg.url(), "node-a").await.unwrap();
        assert_eq!(store.kv_get("signing_key").await.unwrap(), None);
        store.kv_set("signing_key", "k1").await.unwrap();
        store.kv_set("signing_key", "k2").await.unwrap();
        assert_eq!(store.kv_get("signing_key").await.unwrap().as_deref(), Some("k2"));
        assert_eq!(store.kv_get_or_insert("signing_key", "k3").await.unwrap(), "k2", "kept");
        assert_eq!(store.kv_get_or_insert("token_key", "t1").await.unwrap(), "t1", "set when missing");

        let first = store.create_app("acct", "first").await.unwrap();
        let second = store.create_app("acct", "second").await.unwrap();
        store.create_app("other", "theirs").await.unwrap();
        let names: Vec<_> = store.list_apps("acct").await.unwrap().into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["first", "second"], "an account's apps, oldest first, even within one millisecond");
        assert_eq!(store.get_app("acct", &second.id).await.unwrap().map(|a| a.name).as_deref(), Some("second"));
        assert!(store.get_app("other", &first.id).await.unwrap().is_none(), "not another account's");
        assert_eq!(store.app_account(&first.id).await.unwrap().as_deref(), Some("acct"));
        assert_eq!(store.app_name(&first.id).await.unwrap().as_deref(), Some("first"));
        assert_eq!(store.app_name("nope").await.unwrap(), None);

        let (admin, added) = store.insert_token("h1", Scope::Admin, None, None).await.unwrap();
        assert!(added);
        let (_, again) = store.insert_token("h1", Scope::Admin, None, None).await.unwrap();
        assert!(!again, "a known secret changes nothing");
        let (scoped, _) = store.insert_token("h2", Scope::Realtime, Some("acct"), Some(&first.id)).await.unwrap();
        assert_eq!(store.token_by_hash("h2").await.unwrap(), Some(scoped.clone()));
        assert_eq!(store.admin_token_count().await.unwrap(), 1);
        let listed: Vec<_> = store.list_tokens().await.unwrap().into_iter().map(|t| t.record.id).collect();
        assert_eq!(listed, [admin.id.clone(), scoped.id.clone()], "oldest first");
        assert!(store.revoke_token(&admin.id).await.unwrap());
        assert!(!store.revoke_token(&admin.id).await.unwrap());
        assert_eq!(store.token_by_hash("h1").await.unwrap(), None, "revoked at once");

        // A second node on the same database sees the same settings and tokens.
        let other_node = PgStore::connect(&pg.url(), "node-a").await.unwrap();
        assert_eq!(other_node.kv_get("signing_key").await.unwrap().as_deref(), Some("k2"));
        assert_eq!(other_node.token_by_hash("h2").await.unwrap(), Some(scoped));
    }
}
