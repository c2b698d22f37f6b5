//! Builds the running graph from a [`Config`] and shuts it down in order: receivers stop
//! accepting and finish in-flight requests, then queues drain into their exporters, then
//! exporters flush.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::component::Processor;
use super::inflight::InflightBudget;
use super::queue::{self, QueueHandle, QueueState};
use super::router::{PipelineRoute, Router};
use std::path::PathBuf;

use crate::config::{ComponentId, Config, ExporterKind, ReceiverConfig};
use crate::exporter::minware::QueueMode;
use crate::processor::Built;
use crate::queue::DiskQueue;
use crate::receiver::otlp_http;

/// Why the topology could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A receiver could not listen.
    #[error("receivers.{id}: {source}")]
    Bind {
        /// The receiver.
        id: ComponentId,
        /// Why.
        #[source]
        source: otlp_http::BindError,
    },
    /// A component could not be built from its (valid) config.
    #[error("{section}.{id}: {message}")]
    Component {
        /// `processors` or `exporters`.
        section: &'static str,
        /// The component.
        id: ComponentId,
        /// Why.
        message: String,
    },
}

/// How long queues may take to drain at shutdown before retries are abandoned.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A running gateway.
pub struct Running {
    receivers: Vec<(ComponentId, SocketAddr, JoinHandle<()>)>,
    workers: Vec<JoinHandle<()>>,
    queues: Vec<Arc<QueueState>>,
    telemetry: Arc<crate::telemetry::Telemetry>,
    admin_addr: Option<SocketAddr>,
    disks: Vec<Arc<DiskQueue>>,
    drain_timeout: Duration,
    stop_receivers: CancellationToken,
    stop_retries: CancellationToken,
}

/// Builds every component, binds every receiver and starts serving.
pub async fn start(config: &Config) -> Result<Running, StartError> {
    let budget = InflightBudget::new(config.limits.max_inflight_bytes.as_usize());
    let stop_receivers = CancellationToken::new();
    let stop_retries = CancellationToken::new();

    let mut telemetry = crate::telemetry::Telemetry::default();
    let mut processors: BTreeMap<&ComponentId, Arc<dyn Processor>> = BTreeMap::new();
    let mut authenticators = BTreeMap::new();
    for (id, c) in &config.processors {
        let p = crate::processor::build(c).map_err(|message| StartError::Component {
            section: "processors",
            id: id.clone(),
            message,
        })?;
        match p {
            Built::Inline(p) => {
                telemetry.processors.push((id.clone(), p.clone()));
                processors.insert(id, p);
            }
            Built::Auth(a) => {
                telemetry.auth.push((id.clone(), a.clone()));
                authenticators.insert(id, a);
            }
        }
    }
    let integration = Arc::new(config.integration.clone());

    let mut handles: BTreeMap<&ComponentId, QueueHandle> = BTreeMap::new();
    let mut disks = Vec::new();
    let mut drain_timeout = DRAIN_TIMEOUT;
    let mut workers = Vec::new();
    let mut queues = Vec::new();
    for (id, c) in &config.exporters {
        let exporter = crate::exporter::build(id, c, &stop_retries).map_err(|message| StartError::Component {
            section: "exporters",
            id: id.clone(),
            message,
        })?;
        let (handle, worker) = match &c.kind {
            ExporterKind::Minware(m) => {
                drain_timeout = drain_timeout.max(m.shutdown_timeout.0);
                let (h, w) =
                    match m.queue {
                        QueueMode::Disk => {
                            let dir = m.queue_dir.clone().unwrap_or_else(|| {
                                PathBuf::from(format!("./data/queue/{}", id.to_string().replace('/', "_")))
                            });
                            let (disk, recovered) = DiskQueue::open(&dir, m.fsync).map_err(|e| {
                                StartError::Component { section: "exporters", id: id.clone(), message: e.to_string() }
                            })?;
                            disks.push(disk.clone());
                            queue::disk_queue(id.clone(), c.max_queue_bytes.as_usize(), c.when_full, disk, recovered)
                        }
                        QueueMode::Memory => queue::queue(id.clone(), c.max_queue_bytes.as_usize(), c.when_full),
                    };
                (
                    h,
                    w.with_max_in_flight(m.max_in_flight)
                        .with_merging(m.max_batch_bytes.as_usize(), m.max_batch_records),
                )
            }
            _ => queue::queue(id.clone(), c.max_queue_bytes.as_usize(), c.when_full),
        };
        queues.push(handle.state.clone());
        telemetry.exporters.push((id.clone(), exporter.clone()));
        workers.push(tokio::spawn(worker.run(exporter, stop_retries.clone())));
        handles.insert(id, handle);
    }

    let mut receivers = Vec::new();
    for (id, rc) in &config.receivers {
        let routes: Vec<PipelineRoute> = config
            .pipelines
            .iter()
            .filter(|p| p.receivers.contains(id))
            .map(|p| PipelineRoute {
                id: Arc::new(p.id.clone()),
                // Auth is not inline: the receiver runs it before reading the body.
                processors: p.processors.iter().filter_map(|x| processors.get(x).cloned()).collect(),
                exporters: p.exporters.iter().map(|x| handles[x].clone()).collect(),
            })
            .collect();
        if routes.is_empty() {
            continue; // unused receiver: validation already warned
        }
        let auth = config.receiver_auth.get(id).map(|a| authenticators[a].clone());
        let router = Arc::new(Router::new(routes, budget.clone(), auth, integration.clone()));
        match rc {
            ReceiverConfig::OtlpHttp(c) => {
                let listener =
                    otlp_http::bind(c).await.map_err(|source| StartError::Bind { id: id.clone(), source })?;
                let addr = listener.local_addr().map_err(|source| StartError::Bind {
                    id: id.clone(),
                    source: otlp_http::BindError { endpoint: c.endpoint.clone(), source },
                })?;
                let stats = Arc::new(crate::telemetry::ReceiverStats::default());
                telemetry.receivers.push((id.clone(), stats.clone()));
                let task = tokio::spawn(otlp_http::serve(listener, router, stats, c.clone(), stop_receivers.clone()));
                receivers.push((id.clone(), addr, task));
            }
        }
    }
    // Only routers hold queue handles now, so queues close when the receivers stop.
    drop(handles);

    telemetry.queues = queues.clone();
    let telemetry = Arc::new(telemetry);
    let mut admin_addr = None;
    if let Some(a) = &config.admin {
        let admin_error = |source| StartError::Bind {
            id: ComponentId::parse("admin"),
            source: otlp_http::BindError { endpoint: a.endpoint.clone(), source },
        };
        let listener = tokio::net::TcpListener::bind(&a.endpoint).await.map_err(admin_error)?;
        admin_addr = Some(listener.local_addr().map_err(admin_error)?);
        tokio::spawn(crate::admin::serve(listener, telemetry.clone(), stop_retries.clone()));
    }

    Ok(Running {
        receivers,
        workers,
        queues,
        telemetry,
        admin_addr,
        disks,
        drain_timeout,
        stop_receivers,
        stop_retries,
    })
}

impl Running {
    /// The address each receiver listens on (useful when the config asked for port 0).
    pub fn local_addrs(&self) -> Vec<(ComponentId, SocketAddr)> {
        self.receivers.iter().map(|(id, a, _)| (id.clone(), *a)).collect()
    }

    /// The admin listener's address, if one is configured.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// Self-metrics and health.
    pub fn telemetry(&self) -> &Arc<crate::telemetry::Telemetry> {
        &self.telemetry
    }

    /// Exporter queues, for counters.
    pub fn queues(&self) -> &[Arc<QueueState>] {
        &self.queues
    }

    /// Stops accepting, finishes in-flight requests, drains queues and flushes exporters.
    pub async fn shutdown(self) {
        self.stop_receivers.cancel();
        for (id, _, task) in self.receivers {
            if let Err(e) = task.await {
                tracing::error!(receiver = %id, error = %e, "Receiver task failed during shutdown.");
            }
        }
        // No more appends: disk queues end once drained (or on stop_retries).
        for d in &self.disks {
            d.close();
        }
        let stop_retries = self.stop_retries.clone();
        let drain_timeout = self.drain_timeout;
        let drain = async {
            for w in self.workers {
                let _ = w.await;
            }
        };
        tokio::pin!(drain);
        tokio::select! {
            _ = &mut drain => return,
            _ = tokio::time::sleep(drain_timeout) => {
                tracing::warn!(timeout_s = drain_timeout.as_secs(), "Queues did not drain in time; what is on disk stays there for the next start, memory batches get one last try.");
                stop_retries.cancel();
            }
        }
        drain.await;
    }
}
