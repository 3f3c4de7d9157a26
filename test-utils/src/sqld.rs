//! A real `sqld` (libSQL server) on a loopback port, started for a test and killed when dropped.
//!
//! The binary comes from `SQLD_BIN`, or from `.tools/sqld/sqld` where `scripts/install-test-deps.sh` puts it.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A running sqld.
pub struct Sqld {
    child: Child,
    _dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

/// Which tokens the server accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// No authentication.
    None,
    /// JWTs signed by the fixture key; [`valid_token`] passes, [`foreign_token`] does not.
    Jwt,
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A token the [`Auth::Jwt`] server accepts.
pub fn valid_token() -> String {
    std::fs::read_to_string(fixtures().join("sqld-token-valid.jwt")).expect("fixture token")
}

/// A well-formed token signed by another key, which the server refuses.
pub fn foreign_token() -> String {
    std::fs::read_to_string(fixtures().join("sqld-token-foreign.jwt")).expect("fixture token")
}

/// Where the sqld binary is.
pub fn sqld_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SQLD_BIN") {
        return PathBuf::from(path);
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/sqld/sqld");
    assert!(
        path.exists(),
        "sqld not found at {}: run scripts/install-test-deps.sh (or set SQLD_BIN)",
        path.display()
    );
    path
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Sqld {
    /// Starts sqld on a fresh database and waits until `/health` answers.
    pub fn start(auth: Auth) -> Sqld {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let mut cmd = Command::new(sqld_binary());
        cmd.arg("--db-path")
            .arg(dir.path().join("data.sqld"))
            .arg("--http-listen-addr")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--no-welcome")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if auth == Auth::Jwt {
            cmd.arg("--auth-jwt-key-file")
                .arg(fixtures().join("sqld-jwt-public.pem"));
        }
        let child = cmd.spawn().expect("start sqld");
        let server = Sqld {
            child,
            _dir: dir,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !health(port) {
            assert!(
                Instant::now() < deadline,
                "sqld did not become healthy on port {port}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        server
    }
}

fn health(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
}

impl Drop for Sqld {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
