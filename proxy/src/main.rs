//! `sentry-scrub-proxy`: parse flags, build the config, start logging, run.

use std::process::ExitCode;

use clap::Parser;
use proxy::config::cli::{Cli, Command, ConfigAction, LogFormat};
use proxy::config::Config;

/// Exit code for bad configuration (EX_USAGE).
const EXIT_CONFIG: u8 = 64;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_CONFIG } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        None => serve(cli.serve),
        Some(Command::Health { admin, live }) => health(&admin, live),
        Some(Command::Scrub(args)) => {
            let code = proxy::scrub_cmd::run(
                &args,
                &mut std::io::stdin().lock(),
                &mut std::io::stdout().lock(),
                &mut std::io::stderr().lock(),
            );
            ExitCode::from(code)
        }
        Some(Command::Config {
            action: ConfigAction::Show { serve },
        }) => match Config::try_from(*serve) {
            Ok(c) => {
                #[allow(clippy::print_stdout)]
                {
                    print!("{}", c.show());
                }
                ExitCode::SUCCESS
            }
            Err(e) => config_error(&e),
        },
    }
}

fn config_error(e: &proxy::config::ConfigErrors) -> ExitCode {
    #[allow(clippy::print_stderr)]
    {
        eprint!("{e}");
        eprintln!(
            "sentry-scrub-proxy: invalid configuration ({} error(s)); see --help",
            e.0.len()
        );
    }
    ExitCode::from(EXIT_CONFIG)
}

fn serve(args: proxy::config::cli::ServeArgs) -> ExitCode {
    let config = match Config::try_from(args) {
        Ok(c) => c,
        Err(e) => return config_error(&e),
    };
    init_tracing(&config);
    raise_open_file_limit(&config);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if config.worker_threads > 0 {
        builder.worker_threads(config.worker_threads);
    }
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        survive_file_size_limit();
        let (listener, admin) = match proxy::bind(&config).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, listen = %config.listen, admin = %config.admin_listen, "cannot bind");
                return ExitCode::FAILURE;
            }
        };
        match proxy::run(config, listener, admin, shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "proxy failed");
                ExitCode::FAILURE
            }
        }
    })
}

/// A one-request HTTP probe with std only: a container health check needs no curl.
fn health(admin: &str, live: bool) -> ExitCode {
    use std::io::{Read, Write};
    let path = if live { "/healthz" } else { "/readyz" };
    // 0.0.0.0 is where the container listens, not where to connect.
    let target = admin.replace("0.0.0.0", "127.0.0.1");
    let probe = || -> std::io::Result<bool> {
        let addr: std::net::SocketAddr = target
            .parse()
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad address"))?;
        let timeout = std::time::Duration::from_secs(3);
        let mut s = std::net::TcpStream::connect_timeout(&addr, timeout)?;
        s.set_read_timeout(Some(timeout))?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n"
        )?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head)?;
        Ok(&head[9..12] == b"200")
    };
    match probe() {
        Ok(true) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to stderr: stdout carries dry-run envelopes. Colours only on a terminal: a
    // file, a pipe or `docker logs` gets plain text.
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Raises the soft limit on open files to the hard limit (where the system allows it) and
/// logs both: every connection is a file descriptor, and at the usual soft limit of 1,024 a
/// proxy with `--max-connections 1024` plus its admin port, spool and consent file would
/// fail `accept` ("Too many open files") before reaching its own caps.
fn raise_open_file_limit(config: &Config) {
    #[cfg(unix)]
    {
        let before = rlimit::Resource::NOFILE.get();
        let raised = rlimit::increase_nofile_limit(u64::MAX);
        match (before, raised) {
            (Ok((soft, hard)), Ok(now)) => {
                if now > soft {
                    tracing::info!(from = soft, to = now, hard, "open files limit raised");
                } else {
                    tracing::info!(soft = now, hard, "open files limit");
                }
                // Both listeners' caps, plus room for the spool, consent file and upstream.
                let needed =
                    (config.inbound.max_connections + config.admin_max_connections + 64) as u64;
                if now < needed {
                    tracing::warn!(
                        limit = now,
                        needed,
                        "open files limit is below --max-connections + --admin-max-connections: \
                         lower them or raise the limit (ulimit -n), or accept will fail under load"
                    );
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "could not read or raise the open files limit")
            }
        }
    }
}

/// A write past the process's file size limit (`ulimit -f`, `RLIMIT_FSIZE`) raises
/// `SIGXFSZ`, whose default action kills the process. With a handler installed the write
/// fails with `EFBIG` instead, and the spool refuses that envelope (`503 spool_io`) and goes
/// on; the signal itself needs no action.
fn survive_file_size_limit() {
    #[cfg(unix)]
    {
        let kind = tokio::signal::unix::SignalKind::from_raw(libc::SIGXFSZ);
        match tokio::signal::unix::signal(kind) {
            // The handler stays installed for the life of the process; the stream is not read.
            Ok(stream) => drop(stream),
            Err(e) => tracing::debug!(error = %e, "SIGXFSZ handler not installed"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
