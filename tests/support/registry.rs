//! A real registry for tests: Debian's `docker-registry` (the CNCF
//! distribution registry) on 127.0.0.1 with a random port and a temporary
//! storage folder, optionally behind htpasswd basic auth, killed when
//! dropped. It derefs to a [`Pusher`] for pushing content through its API.
//!
//! Without `docker-registry` (or `htpasswd`) the tests that need them skip
//! with a printed reason, except under `CI=true`, where that is a failure.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use super::push::*;

/// Whether `program` runs here; otherwise the test skips (printing why),
/// or fails under `CI=true`.
pub fn require(program: &str, probe: &[&str], package: &str) -> bool {
    let found = Command::new(program)
        .args(probe)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{program} is missing: .ci/run installs the Debian package {package}"
        );
        eprintln!(
            "SKIPPED: {program} is not installed (apt-get install {package}); this test needs a real registry"
        );
    }
    found
}

/// A running registry, killed when dropped.
pub struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    pub port: u16,
    pusher: Pusher,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    /// Starts a registry (with basic auth when `auth` is given); `None`
    /// when `docker-registry` is not installed (and not under CI).
    pub fn start(auth: Option<(&str, &str)>) -> Option<Self> {
        if !require("docker-registry", &["--version"], "docker-registry") {
            return None;
        }
        if auth.is_some() && !require("htpasswd", &["-h"], "apache2-utils") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut auth_config = String::new();
        if let Some((user, password)) = auth {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .unwrap();
            assert!(out.status.success(), "htpasswd failed");
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, &out.stdout).unwrap();
            auth_config = format!(
                "auth:\n  htpasswd:\n    realm: ociledger-test\n    path: {}\n",
                file.display()
            );
        }
        // A free port: bind port 0, read it, let it go, start the registry
        // on it; another process may take it in between, so retry.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let config = dir.path().join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{auth_config}",
                    dir.path().join("data").display()
                ),
            )
            .unwrap();
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config)
                .stdout(std::fs::File::create(dir.path().join("access.log")).unwrap())
                .stderr(std::fs::File::create(dir.path().join("registry.log")).unwrap())
                .spawn()
                .unwrap();
            if wait_ready(&mut child, port) {
                return Some(Self {
                    child,
                    dir,
                    port,
                    pusher: Pusher {
                        host: format!("127.0.0.1:{port}"),
                        auth: auth.map(|(u, p)| (u.to_owned(), p.to_owned())),
                    },
                });
            }
            // Most likely another process took the port: try another.
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "docker-registry did not start: {}",
            std::fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default()
        );
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The registry's access log (one line per request), so far.
    pub fn access_log(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("access.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    pub fn folder(&self) -> &Path {
        self.dir.path()
    }
}

impl std::ops::Deref for Registry {
    type Target = Pusher;

    fn deref(&self) -> &Pusher {
        &self.pusher
    }
}

/// Waits until the registry's `GET /v2/` answers (200, or 401 behind
/// auth); false when it exits or takes longer than 15 s.
fn wait_ready(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if let Ok(a) = http(&format!("127.0.0.1:{port}"), "GET", "/v2/", &[], &[])
            && (a.status == 200 || a.status == 401)
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
