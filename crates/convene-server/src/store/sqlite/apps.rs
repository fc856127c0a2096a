//! Apps and API tokens.

use rusqlite::{params, OptionalExtension};

use super::{new_id, now_rfc3339, Sqlite};
use crate::auth::Scope;
use crate::model::App;
use crate::store::StoreResult;
use crate::store::{TokenRecord, TokenRow};

fn app_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<App> {
    Ok(App { id: r.get(0)?, name: r.get(1)?, created_at: r.get(2)? })
}

impl Sqlite {
    /// Creates an app under an account.
    pub(crate) fn create_app(&self, account_id: &str, name: &str) -> StoreResult<App> {
        let app = App { id: new_id(), name: name.to_owned(), created_at: now_rfc3339() };
        self.lock().execute(
            "INSERT INTO apps (id, account_id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![app.id, account_id, app.name, app.created_at],
        )?;
        Ok(app)
    }

    /// An app, only if it belongs to `account_id`.
    pub(crate) fn get_app(&self, account_id: &str, app_id: &str) -> StoreResult<Option<App>> {
        Ok(self
            .lock()
            .query_row(
                "SELECT id, name, created_at FROM apps WHERE id = ?1 AND account_id = ?2",
                [app_id, account_id],
                app_row,
            )
            .optional()?)
    }

    /// The apps of an account, oldest first.
    pub(crate) fn list_apps(&self, account_id: &str) -> StoreResult<Vec<App>> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare("SELECT id, name, created_at FROM apps WHERE account_id = ?1 ORDER BY created_at, rowid")?;
        let rows = stmt.query_map([account_id], app_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The account an app belongs to.
    pub(crate) fn app_account(&self, app_id: &str) -> StoreResult<Option<String>> {
        Ok(self.lock().query_row("SELECT account_id FROM apps WHERE id = ?1", [app_id], |r| r.get(0)).optional()?)
    }

    /// An app's name.
    pub(crate) fn app_name(&self, app_id: &str) -> StoreResult<Option<String>> {
        Ok(self.lock().query_row("SELECT name FROM apps WHERE id = ?1", [app_id], |r| r.get(0)).optional()?)
    }

    /// Stores an API token by the hash of its secret. Storing a known secret again changes
    /// nothing; the answer says whether it was new.
    pub(crate) fn insert_token(
        &self,
        hash: &str,
        scope: Scope,
        account_id: Option<&str>,
        app_id: Option<&str>,
    ) -> StoreResult<(TokenRecord, bool)> {
        let record = TokenRecord::new(scope, account_id, app_id);
        let added = self.lock().execute(
            "INSERT INTO api_tokens (id, hash, scope, app_id, account_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (hash) DO NOTHING",
            params![record.id, hash, scope.as_str(), app_id, account_id, now_rfc3339()],
        )? == 1;
        Ok((record, added))
    }

    /// The token with this secret hash.
    pub(crate) fn token_by_hash(&self, hash: &str) -> StoreResult<Option<TokenRecord>> {
        Ok(self
            .lock()
            .query_row("SELECT id, scope, app_id, account_id FROM api_tokens WHERE hash = ?1", [hash], |r| {
                Ok(TokenRecord { id: r.get(0)?, scope: r.get(1)?, app_id: r.get(2)?, account_id: r.get(3)? })
            })
            .optional()?)
    }

    /// Every API token, oldest first.
    pub(crate) fn list_tokens(&self) -> StoreResult<Vec<TokenRow>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT id, scope, app_id, account_id, created_at FROM api_tokens ORDER BY created_at, rowid")?;
        let rows = stmt
            .query_map([], |r| {
                let record = TokenRecord { id: r.get(0)?, scope: r.get(1)?, app_id: r.get(2)?, account_id: r.get(3)? };
                Ok(TokenRow { record, created_at: r.get(4)? })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Deletes an API token by id; it stops working at once. Returns whether it existed.
    pub(crate) fn revoke_token(&self, id: &str) -> StoreResult<bool> {
        Ok(self.lock().execute("DELETE FROM api_tokens WHERE id = ?1", [id])? == 1)
    }

    /// How many admin tokens exist.
    pub(crate) fn admin_token_count(&self) -> StoreResult<u64> {
        Ok(self.lock().query_row("SELECT COUNT(*) FROM api_tokens WHERE scope = 'admin'", [], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_made_within_one_millisecond_list_in_the_order_they_were_made() {
        let db = Sqlite::open(None).unwrap();
        let made: Vec<_> = (0..20).map(|i| db.create_app("acct", &format!("app {i}")).unwrap().name).collect();
        let listed: Vec<_> = db.list_apps("acct").unwrap().into_iter().map(|a| a.name).collect();
        assert_eq!(listed, made);
    }
}
