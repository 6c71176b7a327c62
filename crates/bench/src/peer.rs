//! Established peers started for benchmark baselines: today nginx as a reverse proxy in front of
//! the same loopback echo the invoke path is compared with.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;

/// A running nginx, stopped when dropped.
pub(crate) struct Nginx {
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    /// e.g. `nginx/1.22.1`.
    pub(crate) version: String,
}

fn find(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nginx"))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| {
        let sbin = PathBuf::from("/usr/sbin/nginx");
        sbin.is_file().then_some(sbin)
    })
}

impl Nginx {
    /// Starts nginx proxying (HTTP/1.1, keep-alive upstream) to `upstream` (`host:port`);
    /// `Ok(None)` when no nginx is installed.
    pub(crate) async fn start(
        upstream: &str,
        explicit: Option<&Path>,
    ) -> anyhow::Result<Option<Self>> {
        let Some(binary) = find(explicit) else {
            return Ok(None);
        };
        let version = std::process::Command::new(&binary)
            .arg("-v")
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stderr)
                    .trim()
                    .trim_start_matches("nginx version: ")
                    .to_owned()
            })
            .unwrap_or_else(|_| "nginx".into());
        let dir = tempfile::tempdir()?;
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
            probe.local_addr()?.port()
        };
        let d = dir.path().display();
        let config = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\nerror_log {d}/error.log;\npid {d}/nginx.pid;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
             upstream echo {{ server {upstream}; keepalive 64; }}\n  \
             server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://echo;\n      \
             proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n    }}\n  }}\n}}\n"
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config)?;
        let child = tokio::process::Command::new(&binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(Some(Self {
                    _child: child,
                    _dir: dir,
                    url,
                    version,
                }));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
        anyhow::bail!("nginx did not listen on port {port}: {log}")
    }
}
