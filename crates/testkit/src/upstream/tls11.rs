//! A TLS 1.1-only server, for checking that the proxy refuses anything below TLS 1.2.
//!
//! rustls cannot speak TLS 1.1, so this runs `openssl s_server -tls1_1` as a child process
//! on a free `127.0.0.1` port, and kills that child (only it, by its own handle) on drop.

use std::io::{self, BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::ca::ServerCert;
use crate::TempDir;

/// How long `openssl s_server` may take to print `ACCEPT`.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Ports are picked by binding `:0` and letting go, so another process may take the port
/// before openssl binds it; a few tries make that race harmless.
const TRIES: usize = 5;

/// A running `openssl s_server -tls1_1 -www`; killed on drop.
#[derive(Debug)]
pub struct OpensslServer {
    child: Child,
    addr: SocketAddr,
    _files: TempDir,
}

// === impl OpensslServer ===

impl OpensslServer {
    /// Starts `openssl s_server` speaking only TLS 1.1 (`-cipher DEFAULT@SECLEVEL=0`, which
    /// OpenSSL 3 needs to allow it at all) with `cert`, and waits until it accepts.
    pub fn start(cert: &ServerCert) -> io::Result<Self> {
        let files = TempDir::new("tls11");
        let (cert_path, key_path) = cert.write_pem(files.path(), "server")?;
        let mut last_error = None;
        for _ in 0..TRIES {
            let addr = free_port()?;
            let mut child = Command::new("openssl")
                .arg("s_server")
                .arg("-accept")
                .arg(addr.to_string())
                .arg("-tls1_1")
                .args(["-cipher", "DEFAULT@SECLEVEL=0"])
                .arg("-cert")
                .arg(&cert_path)
                .arg("-key")
                .arg(&key_path)
                .arg("-www")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()?;
            match wait_ready(&mut child) {
                Ok(()) => {
                    return Ok(Self {
                        child,
                        addr,
                        _files: files,
                    })
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("openssl s_server did not start")))
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for OpensslServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> io::Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// Reads stdout until `ACCEPT`, then keeps draining stdout and stderr on threads so that a
/// full pipe never blocks the child.
fn wait_ready(child: &mut Child) -> io::Result<()> {
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let (err_tx, err_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let mut buf = [0u8; 4096];
        // Keep the first lines for the error message; discard the rest.
        while let Ok(n @ 1..) = stderr.read(&mut buf) {
            if text.len() < 4096 {
                text.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
        let _ = err_tx.send(text);
    });
    let (ready_tx, ready_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            match line {
                Ok(line) if line.trim() == "ACCEPT" => {
                    let _ = ready_tx.send(true);
                    break;
                }
                Ok(_) => continue,
                Err(_) => break,
            }
        }
        drop(ready_tx);
        for _ in lines {}
    });
    match ready_rx.recv_timeout(READY_TIMEOUT) {
        Ok(true) => Ok(()),
        Ok(false) | Err(mpsc::RecvTimeoutError::Disconnected) => {
            let _ = child.wait();
            let stderr = err_rx.recv_timeout(READY_TIMEOUT).unwrap_or_default();
            Err(io::Error::other(format!(
                "openssl s_server exited before ACCEPT: {}",
                stderr.trim()
            )))
        }
        Err(mpsc::RecvTimeoutError::Timeout) => Err(io::Error::other(
            "openssl s_server did not print ACCEPT in time",
        )),
    }
}
