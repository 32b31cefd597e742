//! The targets the harness measures, as processes: the plain forwarder and the rewriter (this
//! binary's `forwarder` subcommand) and the proxy, in one or more variants.
//!
//! A proxy variant is the proxy with extra flags, measured in the same run as the others so
//! that its cost is a ratio taken on the same machine at the same moment: `--durable` adds
//! the durable spool with `--spool-fsync=batch` and with `--spool-fsync=always`, and
//! `--proxy-variant NAME=FLAGS` any other set. `{spool}` in the flags becomes a fresh empty
//! folder for each start, removed after it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};

use crate::{RunArgs, KEY};

/// A target process that is killed when dropped, with its spool folder, if any.
pub struct Target {
    /// `direct`, `forwarder`, `rewriter`, `proxy` or `proxy:<variant>`.
    pub name: String,
    /// Where the load goes.
    pub addr: SocketAddr,
    /// The process (none for `direct`).
    pub child: Option<Child>,
    /// Removed once the process is gone.
    pub spool: Option<PathBuf>,
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(dir) = &self.spool {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Target {
    /// The process id, for its CPU time and RSS.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

/// A proxy variant: a name for the report and the flags added to the proxy's command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// Reported as `proxy:<name>`.
    pub name: String,
    /// Flags, split on whitespace; `{spool}` is a fresh folder per start.
    pub flags: Vec<String>,
}

/// The variants asked for: `--durable`'s two, then each `--proxy-variant NAME=FLAGS`.
pub fn variants(args: &RunArgs) -> anyhow::Result<Vec<Variant>> {
    let mut out = Vec::new();
    if args.durable {
        for fsync in ["batch", "always"] {
            out.push(Variant {
                name: format!("durable-{fsync}"),
                flags: vec![
                    "--spool-dir={spool}".into(),
                    "--spool-mode=durable".into(),
                    format!("--spool-fsync={fsync}"),
                ],
            });
        }
    }
    for spec in &args.proxy_variants {
        let Some((name, flags)) = spec.split_once('=') else {
            bail!("--proxy-variant wants NAME=FLAGS, got {spec:?}");
        };
        if name.is_empty() || out.iter().any(|v: &Variant| v.name == name) {
            bail!("--proxy-variant: empty or repeated name {name:?}");
        }
        out.push(Variant {
            name: name.to_owned(),
            flags: flags.split_whitespace().map(str::to_owned).collect(),
        });
    }
    Ok(out)
}

/// A loopback port free right now, for a target to listen on.
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

async fn wait_listening(addr: SocketAddr) -> anyhow::Result<()> {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{addr} never listened")
}

/// Starts the proxy (plain, or a variant) in front of the sink; `dir` holds the consent file
/// and the variant's spool folder (`seq` makes the folder's name unique).
pub async fn start_proxy(
    args: &RunArgs,
    sink: SocketAddr,
    dir: &Path,
    variant: Option<&Variant>,
    seq: usize,
) -> anyhow::Result<Target> {
    let consent = dir.join("consent.json");
    // The fixtures' companies are 1, 2 and 3; all consented, with IDs.
    std::fs::write(
        &consent,
        r#"{"telemetry_enabled": true, "companies": {"1": {"telemetry_enabled": true, "telemetry_ids_allowed": true}, "2": {"telemetry_enabled": true, "telemetry_ids_allowed": true}, "3": {"telemetry_enabled": true, "telemetry_ids_allowed": true}}}"#,
    )?;
    let mut spool = None;
    let mut flags = Vec::new();
    for flag in variant.map_or(&[][..], |v| &v.flags) {
        if flag.contains("{spool}") {
            let name = variant.map_or("proxy", |v| v.name.as_str());
            let root = args.spool_root.clone().unwrap_or_else(|| dir.to_owned());
            let folder = root.join(format!("spool-{name}-{seq}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&folder);
            std::fs::create_dir_all(&folder)
                .with_context(|| format!("creating {}", folder.display()))?;
            flags.push(flag.replace("{spool}", folder.to_str().unwrap_or_default()));
            spool = Some(folder);
        } else {
            flags.push(flag.clone());
        }
    }
    let addr = free_addr()?;
    let admin = free_addr()?;
    let child = target_command(&args.proxy_bin, args.pin, args.cpus)
        .args([
            "--listen",
            &addr.to_string(),
            "--admin-listen",
            &admin.to_string(),
        ])
        .args([
            "--upstream-dsn",
            &format!("http://{KEY}@{sink}/42"),
            "--insecure-upstream",
            // The local sink stands in for an EU ingest (the EU residency guard).
            "--eu-upstream-hosts",
            "127.0.0.1",
        ])
        .args(["--consent-file", consent.to_str().unwrap_or_default()])
        .args(["--unattributed", "forward", "--log", "warn"])
        .args(&args.proxy_args)
        .args(&flags)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| {
            format!(
                "starting {} (build it: cargo build --release)",
                args.proxy_bin.display()
            )
        })?;
    // Built before waiting, so that a proxy that never listens is still killed and its
    // folder removed.
    let target = Target {
        name: variant.map_or("proxy".to_owned(), |v| format!("proxy:{}", v.name)),
        addr,
        child: Some(child),
        spool,
    };
    wait_listening(addr).await?;
    Ok(target)
}

/// The command starting a target: under `taskset -c 1-N` when pinned.
fn target_command(program: &Path, pin: bool, cpus: usize) -> Command {
    if !pin || cpus < 2 {
        return Command::new(program);
    }
    let mut cmd = Command::new("taskset");
    cmd.arg("-c").arg(format!("1-{}", cpus - 1)).arg(program);
    cmd
}

/// Pins every thread of this process (load generator and sink) to CPU 0.
pub fn pin_self() -> anyhow::Result<()> {
    let status = Command::new("taskset")
        .args(["-a", "-p", "-c", "0", &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status()
        .context("running taskset (util-linux) for --pin")?;
    if !status.success() {
        bail!("taskset failed: {status}");
    }
    Ok(())
}

/// Starts this binary's forwarder (`rewrite`: the rewriter) in front of the sink.
pub async fn start_forwarder(
    sink: SocketAddr,
    rewrite: bool,
    args: &RunArgs,
) -> anyhow::Result<Target> {
    let addr = free_addr()?;
    let child = target_command(&std::env::current_exe()?, args.pin, args.cpus)
        .args([
            "forwarder",
            "--listen",
            &addr.to_string(),
            "--upstream",
            &sink.to_string(),
        ])
        .args(rewrite.then_some("--rewrite"))
        .stdout(Stdio::null())
        .spawn()?;
    let target = Target {
        name: if rewrite { "rewriter" } else { "forwarder" }.to_owned(),
        addr,
        child: Some(child),
        spool: None,
    };
    wait_listening(addr).await?;
    Ok(target)
}

/// The file system type of `path` (`ext4`, `xfs`, `tmpfs` …), as `stat -f` reports it: a
/// durable spool on tmpfs syncs for free and measures nothing.
pub fn fs_type(path: &Path) -> String {
    Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(path)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}
