//! A throwaway nginx in front of a test server: Debian's `nginx` (the test command installs it),
//! its own prefix directory and loopback port, the usual reverse-proxy configuration for a
//! WebSocket application (`docs/deploy.md` has the same lines), killed when dropped.
//!
//! nginx connects to the server from `upstream_source`, a loopback address of its own, so that a
//! test can tell the proxy's connections from its clients'.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running nginx.
pub struct TestNginx {
    child: Child,
    dir: PathBuf,
    /// Where clients reach it.
    pub addr: SocketAddr,
}

fn binary() -> &'static str {
    if std::path::Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}

fn config(dir: &std::path::Path, listen: SocketAddr, upstream: SocketAddr, upstream_source: IpAddr) -> String {
    let d = dir.display();
    format!(
        r#"worker_processes 1;
error_log {d}/error.log warn;
pid {d}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    server {{
        listen {listen};
        location / {{
            proxy_pass http://{upstream};
            proxy_bind {upstream_source};
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 120s;
        }}
    }}
}}
"#
    )
}

impl TestNginx {
    /// Starts one proxying to `upstream`, connecting to it from `upstream_source`, and waits
    /// until it accepts connections.
    pub async fn start(upstream: SocketAddr, upstream_source: IpAddr) -> Self {
        let dir = std::env::temp_dir().join(format!("convene-nginx-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, config(&dir, addr, upstream, upstream_source)).unwrap();
        let child = Command::new(binary())
            .args(["-p", dir.to_str().unwrap(), "-c", conf.to_str().unwrap(), "-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx is not installed (scripts/test.sh installs it)");
        let nginx = Self { child, dir, addr };
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen within 10 s: {}", nginx.error_log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        nginx
    }

    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What nginx logged (for failure messages).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for TestNginx {
    /// A fast shutdown (`SIGTERM`: the master stops its workers), then a kill if it lingers.
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
