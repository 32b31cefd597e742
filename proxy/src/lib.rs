//! The scrubbing proxy: ingest, gate, scrub, queue and send.
//!
//! ```text
//! SDK ─HTTP─▶ server ─▶ ingest ─▶ pipeline: scrub (gate per item) ─┬─▶ sink (dry run)
//!               │         └─ auth, caps, decompress, parse          └─▶ egress queue ─(full)─▶ spool
//!               └─ routes, connection cap, timeouts                        │
//!                                                   senders: consent re-check, rate limits,
//!                                                   HTTPS (TLS 1.2+) to the one upstream host
//! consent source (file / URL / refresh) ─watch─▶ gate and re-check
//! admin ─▶ /healthz /readyz /metrics /audit/recent /consent/refresh
//! ```
//!
//! [`run`] is the whole proxy; `main.rs` only parses flags and calls it, so tests run the
//! same code in-process. `docs/ARCHITECTURE.md` walks through each stage.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod consent_source;
pub mod dsn;
pub mod egress;
pub mod gate;
pub mod ingest;
pub mod metrics;
pub mod pipeline;
pub mod queue;
pub mod reject;
pub mod scrub_cmd;
pub mod server;
pub mod sink;
pub mod spool;
pub mod upstream;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::config::{Config, Output};
use crate::gate::ConsentView;
use crate::metrics::Metrics;
use crate::sink::Sink;

/// Everything a request handler reads: immutable config plus shared counters.
#[derive(Debug)]
pub struct State {
    /// The validated configuration.
    pub config: Config,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Dry-run output (unused with an upstream).
    pub sink: Sink,
    /// The egress half, with an upstream.
    pub egress: Option<Arc<egress::Egress>>,
    /// False once shutdown began.
    pub accepting: AtomicBool,
    /// True once the "events dropped as unattributed" hint was logged (it is said once).
    pub unattributed_hinted: AtomicBool,
    /// The consent in force; swapped whole on reload.
    pub consent: tokio::sync::watch::Sender<Arc<ConsentView>>,
    /// Asks the consent source to reload now (`POST /consent/refresh`).
    pub consent_refresh: Option<tokio::sync::mpsc::Sender<consent_source::Refresh>>,
    refresh_rx: std::sync::Mutex<Option<tokio::sync::mpsc::Receiver<consent_source::Refresh>>>,
}

impl State {
    /// Builds the shared state for a config.
    pub fn new(config: Config) -> std::io::Result<State> {
        let (sink, egress) = match &config.output {
            Output::Stdout => (Sink::stdout(), None),
            Output::Outbox(dir) => (Sink::outbox(dir.clone()), None),
            Output::Upstream(up) => {
                let spool = match &up.spool {
                    Some((dir, max)) => Some(spool::Spool::open(dir, *max)?),
                    None => None,
                };
                let e = egress::Egress::new(
                    queue::Queue::new(up.queue_max_envelopes, up.queue_max_bytes),
                    spool,
                    upstream::Upstream::new(up.client.clone()),
                    audit::Audit::new(up.audit_size),
                    up.settings,
                );
                (Sink::stdout(), Some(Arc::new(e)))
            }
        };
        let view = initial_consent(&config);
        let (refresh_tx, refresh_rx) = tokio::sync::mpsc::channel(16);
        let has_source = config.consent.file.is_some() || config.consent.url.is_some();
        Ok(State {
            consent_refresh: has_source.then_some(refresh_tx),
            refresh_rx: std::sync::Mutex::new(has_source.then_some(refresh_rx)),
            config,
            metrics: Arc::new(Metrics::default()),
            sink,
            egress,
            accepting: AtomicBool::new(true),
            unattributed_hinted: AtomicBool::new(false),
            consent: tokio::sync::watch::Sender::new(Arc::new(view)),
        })
    }

    /// The consent source, if one is configured.
    pub fn consent_source(&self) -> Option<consent_source::Source> {
        let c = &self.config.consent;
        if let Some(f) = &c.file {
            return Some(consent_source::Source::File(f.clone()));
        }
        let url = c.url.clone()?;
        let tls = c.tls.clone()?;
        Some(consent_source::Source::Url {
            url,
            interval: c.poll_interval,
            tls,
        })
    }

    /// Updates gauges computed from state (consent), before `/metrics` renders.
    pub fn refresh_gauges(&self) {
        let view = self.consent_view();
        self.metrics.set(
            &metrics::TELEMETRY_ENABLED,
            &[],
            u64::from(view.telemetry_enabled()),
        );
    }

    /// The consent view in force now (a cheap pointer copy).
    pub fn consent_view(&self) -> Arc<ConsentView> {
        self.consent.borrow().clone()
    }

    /// `/readyz`: accepting traffic, with valid consent, and room for new envelopes (a full
    /// queue without a spool answers 429).
    pub fn is_ready(&self) -> bool {
        let saturated =
            (self.egress.as_ref()).is_some_and(|e| e.spool.is_none() && e.queue.fill_above(1.0));
        self.accepting.load(Ordering::Relaxed)
            && !matches!(*self.consent_view(), ConsentView::Closed(_))
            && !saturated
    }
}

/// Runs CPU-heavy work (`big`) where it cannot stall the worker's other tasks: in place on a
/// multi-threaded runtime (`block_in_place` hands the worker's queue to another thread),
/// inline elsewhere (single-threaded test runtimes) and for small work, where the hand-over
/// would cost more than it saves.
pub fn offload<R>(big: bool, f: impl FnOnce() -> R) -> R {
    let multi = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if big && multi {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

/// The addresses actually bound (ports resolved when `:0` was asked).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// SDK listener.
    pub listen: SocketAddr,
    /// Admin listener.
    pub admin: SocketAddr,
}

/// Binds both listeners. Nothing is bound until the config is valid.
pub async fn bind(config: &Config) -> std::io::Result<(TcpListener, TcpListener)> {
    let listener = TcpListener::bind(config.listen).await?;
    let admin = TcpListener::bind(config.admin_listen).await?;
    Ok((listener, admin))
}

/// Runs the proxy on bound listeners until `shutdown` resolves.
pub async fn run(
    config: Config,
    listener: TcpListener,
    admin: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let bound = Bound {
        listen: listener.local_addr()?,
        admin: admin.local_addr()?,
    };
    tracing::info!(address = %bound.listen, "listening for SDKs");
    tracing::info!(address = %bound.admin, "admin listening");
    if let Some(path) = &config.ready_file {
        write_ready_file(path, &bound)?;
    }
    let shutdown_timeout = config.shutdown_timeout;
    let state = Arc::new(State::new(config)?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let admin_task = {
        let state = state.clone();
        let mut rx = stop_rx.clone();
        tokio::spawn(admin::serve(admin, state, async move {
            let _ = rx.wait_for(|s| *s).await;
        }))
    };
    let consent_task = {
        let rx = state
            .refresh_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match (state.consent_source(), rx) {
            (Some(source), Some(rx)) => Some(tokio::spawn(consent_source::run(
                source,
                state.config.consent.max_age,
                state.consent.clone(),
                state.metrics.clone(),
                rx,
                stop_rx.clone(),
            ))),
            _ => None,
        }
    };
    let (egress_stop, egress_stop_rx) = tokio::sync::watch::channel(false);
    let egress_tasks = match &state.egress {
        Some(e) => egress::spawn(state.clone(), e.clone(), egress_stop_rx),
        None => Vec::new(),
    };
    let state2 = state.clone();
    // One deadline for the whole shutdown: open connections, then the queue.
    let began = Arc::new(std::sync::OnceLock::new());
    let began2 = began.clone();
    server::serve(
        listener,
        state.clone(),
        async move {
            shutdown.await;
            let _ = began2.set(tokio::time::Instant::now());
            state2.accepting.store(false, Ordering::Relaxed);
            tracing::info!("shutting down: no new connections");
        },
        shutdown_timeout,
    )
    .await;
    if let Some(e) = &state.egress {
        let deadline = began
            .get()
            .copied()
            .unwrap_or_else(tokio::time::Instant::now)
            + shutdown_timeout;
        drain(&state, e, deadline).await;
        let _ = egress_stop.send(true);
        for t in egress_tasks {
            let _ = t.await;
        }
        for job in e.queue.drain() {
            e.park(&state.metrics, job);
        }
    }
    let _ = stop_tx.send(true);
    let _ = admin_task.await;
    if let Some(t) = consent_task {
        let _ = t.await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Lets the senders empty the queue until `deadline`.
async fn drain(state: &State, egress: &egress::Egress, deadline: tokio::time::Instant) {
    while !egress.idle() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    egress.gauges(&state.metrics);
    if !egress.idle() {
        tracing::warn!(
            queued = egress.queue.len(),
            "drain time over: spooling what is left"
        );
    }
}

fn initial_consent(config: &Config) -> ConsentView {
    match &config.consent.file {
        Some(path) => match gate::load_file(path) {
            Ok(doc) => ConsentView::Document(Arc::new(doc)),
            Err(e) => {
                tracing::error!(error = %e, "no valid consent: nothing will leave until it is fixed");
                ConsentView::Closed(consent::DropReason::NoConsent)
            }
        },
        None if config.consent.assume_without_source => {
            tracing::warn!("no consent source: dry run assumes telemetry enabled for every company, IDs not allowed");
            ConsentView::Assumed
        }
        None => {
            if config.consent.url.is_some() {
                tracing::info!("waiting for the consent URL: nothing leaves until it answers");
            }
            ConsentView::Closed(consent::DropReason::NoConsent)
        }
    }
}

fn write_ready_file(path: &std::path::Path, bound: &Bound) -> std::io::Result<()> {
    let body = format!(
        "{{\"listen\":\"{}\",\"admin\":\"{}\"}}\n",
        bound.listen, bound.admin
    );
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, body)?;
    std::fs::rename(&tmp, path)
}
