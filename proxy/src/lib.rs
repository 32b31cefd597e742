//! The scrubbing proxy: an envelope enters at ingest, is decided in the pipeline and leaves
//! through egress; the consent source feeds the decision, admin shows the state.
//!
//! ```text
//!            ┌──────────── ingest/ ─────────────┐   ┌─ pipeline/ ─┐   ┌───────── egress/ ─────────┐
//! SDK ─HTTP─▶ server ─▶ auth, caps, decompress, ─▶ gate, scrub, ─▶ queue ─(full)─▶ spool
//!            │ routes    parse, route            │   re-encode   │   senders: consent re-check,
//!            └───────────────────────────────────┘   └─────┬───────┘   rate limits, HTTPS (TLS 1.2+)
//!                                                          │ dry run:  sink (stdout | outbox)
//! consent_source/ (file / URL / refresh) ─watch─▶ gate and re-check
//! admin/ ─▶ /healthz /readyz /metrics /audit/recent /consent/refresh   (metrics: every stage counts)
//! config/ ─▶ flags, validation, each stage's settings
//! ```
//!
//! Dependencies follow the path: ingest knows the pipeline, the pipeline knows egress, and
//! no stage knows one upstream of itself or `config`. Stages share only leaves: [`dsn`],
//! [`metrics`], [`respond`], [`offload`], [`keep`] and [`consent_view`]. This file is the
//! composition root: [`run`] builds each stage from the [`config::Config`] and wires them;
//! `main.rs` only parses flags and calls it, so tests run the same code in-process.
//! `docs/ARCHITECTURE.md` walks through each stage.

pub mod admin;
pub mod config;
pub mod consent_source;
pub mod consent_view;
pub mod dsn;
pub mod egress;
pub mod ingest;
pub mod keep;
pub mod metrics;
pub mod offload;
pub mod pipeline;
pub mod respond;
pub mod scrub_cmd;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::config::{Config, Output};
use crate::consent_source::Refresh;
use crate::consent_view::ConsentView;
use crate::egress::sink::Sink;
use crate::egress::Egress;
use crate::ingest::Ingest;
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;

/// The running proxy: the config, each stage, and the consent channel that feeds them.
#[derive(Debug)]
pub struct State {
    /// The validated configuration.
    pub config: Config,
    /// Counters, written by every stage.
    pub metrics: Arc<Metrics>,
    /// The SDK listener's stage (and through it the pipeline).
    pub ingest: Arc<Ingest>,
    /// The egress half, with an upstream.
    pub egress: Option<Arc<Egress>>,
    /// The consent in force; swapped whole on reload.
    pub consent: watch::Sender<Arc<ConsentView>>,
    /// Asks the consent source to reload now (`POST /consent/refresh`).
    consent_refresh: Option<mpsc::Sender<Refresh>>,
    refresh_rx: std::sync::Mutex<Option<mpsc::Receiver<Refresh>>>,
}

impl State {
    /// Builds every stage for a config (opens the spool, reads a consent file once).
    pub fn new(config: Config) -> std::io::Result<State> {
        let metrics = Arc::new(Metrics::default());
        let consent = watch::Sender::new(Arc::new(config.consent.initial_view()));
        let unattributed = config.consent.unattributed;
        let (output, egress) = match &config.output {
            Output::Stdout => (pipeline::Output::DryRun(Sink::stdout()), None),
            Output::Outbox(dir) => (pipeline::Output::DryRun(Sink::outbox(dir.clone())), None),
            Output::Upstream(up) => {
                let e = Arc::new(Egress::open(
                    up,
                    metrics.clone(),
                    consent.subscribe(),
                    unattributed,
                )?);
                (pipeline::Output::Upstream(e.clone()), Some(e))
            }
        };
        let pipeline = Pipeline::new(
            config.policy.clone(),
            unattributed,
            metrics.clone(),
            consent.subscribe(),
            output,
            pipeline::traces::TraceMapSettings {
                max_entries: config.trace_map_max_entries,
                ttl: config.trace_map_ttl,
            },
        );
        let ingest = Ingest {
            routes: config.routes.clone(),
            limits: config.limits.clone(),
            inbound: config.inbound,
            pipeline: Arc::new(pipeline),
            metrics: metrics.clone(),
            accepting: true.into(),
        };
        let (refresh_tx, refresh_rx) = mpsc::channel(16);
        let has_source = config.consent.source().is_some();
        Ok(State {
            consent_refresh: has_source.then_some(refresh_tx),
            refresh_rx: std::sync::Mutex::new(has_source.then_some(refresh_rx)),
            config,
            metrics,
            ingest: Arc::new(ingest),
            egress,
            consent,
        })
    }

    /// The consent view in force now (a cheap pointer copy).
    pub fn consent_view(&self) -> Arc<ConsentView> {
        self.consent.borrow().clone()
    }
}

impl State {
    /// Why the proxy should not get traffic now; empty when ready. See [`not_ready`].
    pub fn not_ready(&self) -> Vec<&'static str> {
        let egress = self.egress.as_deref();
        not_ready(Readiness {
            accepting: self.ingest.accepting.load(Ordering::Relaxed),
            consent: &self.consent_view(),
            saturated: egress.is_some_and(|e| e.spool.is_none() && e.queue.fill_above(1.0)),
            no_sender: egress.is_some_and(Egress::no_sender),
        })
    }
}

/// The facts readiness is decided on.
#[derive(Debug, Clone, Copy)]
pub struct Readiness<'a> {
    /// Still accepting connections (false once shutdown began).
    pub accepting: bool,
    /// The consent in force.
    pub consent: &'a ConsentView,
    /// The queue is full and there is no spool to take the overflow (SDKs get 429).
    pub saturated: bool,
    /// Every sender failed and waits for its restart.
    pub no_sender: bool,
}

/// The reasons not to send traffic here, in a fixed order: `shutting_down`, the consent
/// gate's reason (`no_consent`, `consent_expired`), `queue_full`, `no_sender`. Empty: ready.
pub fn not_ready(r: Readiness<'_>) -> Vec<&'static str> {
    let mut reasons = Vec::new();
    if !r.accepting {
        reasons.push("shutting_down");
    }
    if let ConsentView::Closed(reason) = r.consent {
        reasons.push(reason.as_str());
    }
    if r.saturated {
        reasons.push("queue_full");
    }
    if r.no_sender {
        reasons.push("no_sender");
    }
    reasons
}

impl admin::Status for State {
    /// Accepting traffic, with valid consent, room for new envelopes (a full queue without a
    /// spool answers 429), and at least one sender working.
    fn not_ready(&self) -> Vec<&'static str> {
        State::not_ready(self)
    }

    fn ready_warning(&self) -> Option<String> {
        self.config.eu_residency.warning()
    }

    fn render_metrics(&self) -> String {
        if let Some(e) = &self.egress {
            e.gauges();
        }
        let view = self.consent_view();
        self.metrics.set(
            &metrics::TELEMETRY_ENABLED,
            &[],
            u64::from(view.telemetry_enabled()),
        );
        self.metrics.render()
    }

    fn audit_json(&self) -> String {
        match &self.egress {
            Some(e) => e.audit.to_json(),
            None => "[]".into(),
        }
    }

    fn consent_refresh(&self) -> Option<&mpsc::Sender<Refresh>> {
        self.consent_refresh.as_ref()
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
    if let Some(w) = config.eu_residency.warning() {
        tracing::warn!(eu_residency = %w, "the EU residency guard is off");
    }
    if let Some(path) = &config.ready_file {
        write_ready_file(path, &bound)?;
    }
    let shutdown_timeout = config.shutdown_timeout;
    let state = Arc::new(State::new(config)?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let admin_task = {
        let state = state.clone();
        let mut rx = stop_rx.clone();
        let settings = admin::AdminSettings {
            token: state.config.admin_token.clone(),
            header_read_timeout: state.config.inbound.header_read_timeout,
            max_connections: state.config.admin_max_connections,
        };
        tokio::spawn(admin::serve(admin, settings, state, async move {
            let _ = rx.wait_for(|s| *s).await;
        }))
    };
    let consent_task = {
        let rx = state
            .refresh_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match (state.config.consent.source(), rx) {
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
        Some(e) => egress::spawn(e.clone(), egress_stop_rx),
        None => Vec::new(),
    };
    let state2 = state.clone();
    // One deadline for the whole shutdown: open connections, then the queue.
    let began = Arc::new(std::sync::OnceLock::new());
    let began2 = began.clone();
    ingest::server::serve(
        listener,
        state.ingest.clone(),
        async move {
            shutdown.await;
            let _ = began2.set(tokio::time::Instant::now());
            state2.ingest.accepting.store(false, Ordering::Relaxed);
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
        drain(e, deadline).await;
        let _ = egress_stop.send(true);
        for t in egress_tasks {
            let _ = t.await;
        }
        for job in e.queue.drain() {
            e.park(job);
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
async fn drain(egress: &Egress, deadline: tokio::time::Instant) {
    while !egress.idle() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    egress.gauges();
    if !egress.idle() {
        tracing::warn!(
            queued = egress.queue.len(),
            "drain time over: spooling what is left"
        );
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

#[cfg(test)]
mod tests {
    use super::*;
    use consent::DropReason;

    #[test]
    fn readiness_gives_every_reason_in_order() {
        let open = ConsentView::Assumed;
        let ready = Readiness {
            accepting: true,
            consent: &open,
            saturated: false,
            no_sender: false,
        };
        assert_eq!(not_ready(ready), Vec::<&str>::new());
        assert_eq!(
            not_ready(Readiness {
                no_sender: true,
                ..ready
            }),
            vec!["no_sender"]
        );
        let expired = ConsentView::Closed(DropReason::ConsentExpired);
        assert_eq!(
            not_ready(Readiness {
                accepting: false,
                consent: &expired,
                saturated: true,
                no_sender: true,
            }),
            vec![
                "shutting_down",
                "consent_expired",
                "queue_full",
                "no_sender"
            ]
        );
        let none = ConsentView::Closed(DropReason::NoConsent);
        assert_eq!(
            not_ready(Readiness {
                consent: &none,
                ..ready
            }),
            vec!["no_consent"]
        );
    }
}
