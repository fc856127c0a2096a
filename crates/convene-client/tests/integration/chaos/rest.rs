//! REST calls with the admin token, either straight to the server (the test's oracle, which must
//! succeed) or through the proxy (the test's actions, which meet the faults).

use std::time::Duration;

use serde_json::Value;

/// The admin token the server is started with.
pub const ADMIN: &str = "cvn_chaos_admin_token_0123456789abcdef";

/// REST calls, directly (the test's oracle) or through the proxy (the test's actions).
#[derive(Clone)]
pub struct Rest {
    pub http: reqwest::Client,
    pub direct: String,
    pub proxied: String,
}

impl Rest {
    /// A call, direct or through the proxy: (status, body as JSON, `null` if it is not).
    pub async fn call(
        &self,
        via_proxy: bool,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let base = if via_proxy { &self.proxied } else { &self.direct };
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .header("authorization", format!("Bearer {ADMIN}"))
            .timeout(Duration::from_secs(10));
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| e.to_string())?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// A direct call that must succeed.
    pub async fn get(&self, path: &str) -> Value {
        let (status, v) = self.call(false, "GET", path, None).await.expect("direct REST call");
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    /// Every item of a paged list.
    pub async fn all(&self, path: &str) -> Vec<Value> {
        let mut out = Vec::new();
        for page in 1.. {
            let sep = if path.contains('?') { '&' } else { '?' };
            let v = self.get(&format!("{path}{sep}per_page=100&page_no={page}")).await;
            let data = &v["data"];
            let items = data
                .as_array()
                .or_else(|| data["sessions"].as_array())
                .or_else(|| data["participants"].as_array())
                .cloned()
                .unwrap_or_default();
            let n = items.len();
            out.extend(items);
            if n < 100 {
                break;
            }
        }
        out
    }
}
