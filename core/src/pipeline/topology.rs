//! Builds the running graph from a [`Config`], swaps it on reload, and shuts it down in order.
//!
//! A *generation* is one build of processors, exporters, queues and routers. Receivers outlive
//! generations: a reload builds a new generation and swaps each receiver's router (the listening
//! socket stays open, so clients never see a refusal), binds receivers that are new or moved,
//! and stops the ones that are gone. The old generation then winds down without losing data:
//! its memory queues close once the last request holding an old router ends and drain into their
//! exporters; its disk-queue workers stop at once and leave their batches in the queue, which the
//! new generation opened again from the same directory (disk queues are carried over by path).
//! Shutdown: receivers stop and finish in-flight requests, queues drain, exporters flush.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::component::Processor;
use super::inflight::InflightBudget;
use super::queue::{self, QueueHandle};
use super::router::RouterSlot;
use super::router::{PipelineRoute, Router};
use crate::config::{ComponentId, Config, ReceiverConfig};
use crate::queue::DiskQueue;
use crate::registry::{BindError, Built, Delivery, ExporterBuild, ProcessorBuild, QueueStore};
use crate::telemetry::{ReceiverStats, Telemetry};

/// Why the topology could not start (or a reload could not be applied).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A receiver could not listen.
    #[error("receivers.{id}: {error}")]
    Bind {
        /// The receiver.
        id: ComponentId,
        /// Why (in the message, so not a `source`: a chain prints it once).
        error: BindError,
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

/// The runtime exporter workers run on: a thread of their own, so that on a saturated core the
/// OS shares time between receiving and forwarding. On the receivers' runtime a worker is one
/// task among every connection's and gets one poll per round of their decodes, so it falls
/// behind and its queue (memory) grows or refuses.
fn exporter_runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otelgate-export")
            .enable_all()
            .build()
            .expect("starting the exporters' runtime")
    })
}

/// One exporter worker and what stops it.
struct Worker {
    id: ComponentId,
    task: JoinHandle<()>,
    /// A memory worker's switch to hand undeliverable batches to its successor (reload).
    hand_over: Arc<queue::HandOver>,
    /// Cancels retries (memory) or stops taking from the disk queue (disk).
    stop: CancellationToken,
    durable: bool,
    /// How long it may drain at shutdown (its exporter's `shutdown_timeout`, or the default).
    drain_timeout: Duration,
}

/// One build of processors, exporters and routers.
struct Generation {
    routers: BTreeMap<ComponentId, Arc<Router>>,
    workers: Vec<Worker>,
    /// The memory queues, by exporter: where a retiring generation hands what it cannot deliver.
    successors: BTreeMap<ComponentId, queue::Successor>,
    telemetry: Telemetry,
}

struct RunningReceiver {
    config: ReceiverConfig,
    addr: Option<SocketAddr>,
    task: JoinHandle<()>,
    slot: Arc<RouterSlot>,
    stats: Arc<ReceiverStats>,
    stop: CancellationToken,
}

/// A running gateway.
pub struct Running {
    receivers: BTreeMap<ComponentId, RunningReceiver>,
    current: Generation,
    retired: Vec<Worker>,
    disks: BTreeMap<PathBuf, Arc<DiskQueue>>,
    budget: InflightBudget,
    telemetry: Arc<RwLock<Arc<Telemetry>>>,
    admin_addr: Option<SocketAddr>,
    admin_stop: CancellationToken,
    reloads: Option<tokio::sync::mpsc::Receiver<crate::admin::ReloadRequest>>,
}

fn component_error<'a>(section: &'static str, id: &'a ComponentId) -> impl FnOnce(String) -> StartError + 'a {
    move |message| StartError::Component { section, id: id.clone(), message }
}

/// Builds processors, exporters, queues and routers; disk queues already open are reused.
fn build(
    config: &Config,
    budget: &InflightBudget,
    disks: &mut BTreeMap<PathBuf, Arc<DiskQueue>>,
) -> Result<Generation, StartError> {
    let mut telemetry = Telemetry::default();
    let mut processors: BTreeMap<&ComponentId, Arc<dyn Processor>> = BTreeMap::new();
    let mut authenticators = BTreeMap::new();
    let relay_keys: Vec<String> = config.processors.values().flat_map(|c| c.relay_keys()).collect();
    for (id, c) in &config.processors {
        let cx = ProcessorBuild {
            id,
            plugin_dir: config.plugin_dir.as_deref(),
            signals: &config.signals_of(id),
            relay_keys: &relay_keys,
        };
        match c.build(&cx).map_err(component_error("processors", id))? {
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
    let mut workers = Vec::new();
    let mut successors = BTreeMap::new();
    let mut forwarded: BTreeMap<&ComponentId, bool> = BTreeMap::new();
    for (id, c) in &config.exporters {
        let stop = CancellationToken::new();
        let cx = ExporterBuild {
            id,
            stopping: &stop,
            plugin_dir: config.plugin_dir.as_deref(),
            signals: &config.signals_of(id),
        };
        let exporter = c.kind.build(&cx).map_err(component_error("exporters", id))?;
        let plan = c.kind.queue_plan(id);
        let drain_timeout = plan.drain_timeout;
        let durable = matches!(plan.store, QueueStore::Disk { .. });
        let (handle, worker) = match plan.store {
            QueueStore::Disk { dir, fsync } => {
                let (disk, recovered) = match disks.get(&dir) {
                    // Carried over from the previous generation: same directory, same queue.
                    Some(d) => (d.clone(), d.pending_bytes()),
                    None => {
                        let (d, r) = DiskQueue::open(&dir, fsync)
                            .map_err(|e| component_error("exporters", id)(e.to_string()))?;
                        disks.insert(dir, d.clone());
                        (d, r)
                    }
                };
                queue::disk_queue(id.clone(), c.max_queue_bytes.as_usize(), c.when_full, disk, recovered)
            }
            QueueStore::Memory => queue::queue(id.clone(), c.max_queue_bytes.as_usize(), c.when_full),
        };
        let handle = match plan.delivery {
            Delivery::BeforeAnswer { timeout } => handle.delivering_before_answer(exporter.clone(), timeout),
            Delivery::Queued => handle,
        };
        let (max_bytes, max_records) = plan.merging.unwrap_or((0, 0));
        let worker = worker.with_max_in_flight(plan.max_in_flight).with_merging(max_bytes, max_records);
        forwarded.insert(id, exporter.takes_forwarded_bytes());
        telemetry.queues.push(handle.state.clone());
        telemetry.exporters.push((id.clone(), exporter.clone()));
        // One span per component: every line its worker (and exporter) logs names it.
        let span = tracing::info_span!("exporter", id = %id);
        let hand_over = worker.hand_over();
        if let Some(s) = handle.successor() {
            successors.insert(id.clone(), s);
        }
        let task = exporter_runtime().spawn(worker.run(exporter, stop.clone()).instrument(span));
        workers.push(Worker { id: id.clone(), task, hand_over, stop, durable, drain_timeout });
        handles.insert(id, handle);
    }

    let mut routers = BTreeMap::new();
    for id in config.receivers.keys() {
        let routes: Vec<PipelineRoute> = config
            .pipelines
            .iter()
            .filter(|p| p.receivers.contains(id))
            .map(|p| PipelineRoute {
                id: Arc::new(p.id.clone()),
                // Auth is not inline: the receiver runs it before reading the body.
                processors: p.processors.iter().filter_map(|x| processors.get(x).cloned()).collect(),
                exporters: p.exporters.iter().map(|x| handles[x].clone()).collect(),
                takes_original: p.exporters.iter().all(|x| forwarded[x]),
            })
            .collect();
        if routes.is_empty() {
            continue; // unused receiver: validation already warned
        }
        let auth = config.receiver_auth.get(id).map(|a| authenticators[a].clone());
        routers.insert(id.clone(), Arc::new(Router::new(routes, budget.clone(), auth, integration.clone())));
    }
    // Only routers hold queue handles now, so memory queues close when their routers are gone.
    drop(handles);
    Ok(Generation { routers, workers, successors, telemetry })
}

async fn bind_receiver(
    id: &ComponentId,
    c: &ReceiverConfig,
    router: Arc<Router>,
) -> Result<RunningReceiver, StartError> {
    let slot = RouterSlot::new(router);
    let stats = Arc::new(ReceiverStats::default());
    let stop = CancellationToken::new();
    let span = tracing::info_span!("receiver", id = %id);
    let started = c
        .start(slot.clone(), stats.clone(), stop.clone())
        .instrument(span)
        .await
        .map_err(|error| StartError::Bind { id: id.clone(), error })?;
    Ok(RunningReceiver { config: c.clone(), addr: started.addr, task: started.task, slot, stats, stop })
}

/// Builds every component, binds every receiver and starts serving.
pub async fn start(config: &Config) -> Result<Running, StartError> {
    let budget = InflightBudget::new(config.limits.max_inflight_bytes.as_usize());
    let mut disks = BTreeMap::new();
    let mut generation = build(config, &budget, &mut disks)?;
    let mut receivers = BTreeMap::new();
    for (id, router) in &generation.routers {
        let r = bind_receiver(id, &config.receivers[id], router.clone()).await?;
        generation.telemetry.receivers.push((id.clone(), r.stats.clone()));
        receivers.insert(id.clone(), r);
    }
    let telemetry = Arc::new(RwLock::new(Arc::new(std::mem::take(&mut generation.telemetry))));
    let admin_stop = CancellationToken::new();
    let (reload_tx, reloads) = tokio::sync::mpsc::channel(4);
    let mut admin_addr = None;
    if let Some(a) = &config.admin {
        let admin_error = |cause| StartError::Bind {
            id: ComponentId::parse("admin"),
            error: BindError { endpoint: a.endpoint.clone(), cause },
        };
        let listener = tokio::net::TcpListener::bind(&a.endpoint).await.map_err(admin_error)?;
        admin_addr = Some(listener.local_addr().map_err(admin_error)?);
        tokio::spawn(crate::admin::serve(listener, telemetry.clone(), reload_tx, admin_stop.clone()));
    }
    Ok(Running {
        receivers,
        current: generation,
        retired: Vec::new(),
        disks,
        budget,
        telemetry,
        admin_addr,
        admin_stop,
        reloads: Some(reloads),
    })
}

impl Running {
    /// The address each listening receiver listens on (useful when the config asked for port 0).
    pub fn local_addrs(&self) -> Vec<(ComponentId, SocketAddr)> {
        self.receivers.iter().filter_map(|(id, r)| Some((id.clone(), r.addr?))).collect()
    }

    /// The admin listener's address, if one is configured.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// Reload requests from the admin listener (`POST /reload`); taken once by the caller that
    /// owns the reload loop.
    pub fn take_reload_requests(&mut self) -> Option<tokio::sync::mpsc::Receiver<crate::admin::ReloadRequest>> {
        self.reloads.take()
    }

    /// Self-metrics and health of the current generation.
    pub fn telemetry(&self) -> Arc<Telemetry> {
        self.telemetry.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Applies a new configuration without closing unchanged listeners and without refusing
    /// requests meanwhile. On error the running configuration stays in force untouched.
    /// (The admin listener and `limits` keep their start-up settings.)
    pub async fn reload(&mut self, config: &Config) -> Result<(), StartError> {
        let mut next = build(config, &self.budget, &mut self.disks)?;
        // Bind what is new or moved before touching anything running, so a failure leaves
        // the old topology as it was.
        let mut fresh = BTreeMap::new();
        for (id, router) in &next.routers {
            let c = &config.receivers[id];
            let same = self.receivers.get(id).is_some_and(|r| r.config.same_listener(c.as_ref()));
            if !same {
                match bind_receiver(id, c, router.clone()).await {
                    Ok(r) => {
                        fresh.insert(id.clone(), r);
                    }
                    Err(e) => {
                        for r in fresh.into_values() {
                            r.stop.cancel();
                        }
                        for w in &next.workers {
                            w.stop.cancel();
                        }
                        return Err(e);
                    }
                }
            }
        }
        // Swap routers of the receivers that stay; stop the ones that are gone or moved.
        let old_ids: Vec<ComponentId> = self.receivers.keys().cloned().collect();
        for id in old_ids {
            let keep = next.routers.contains_key(&id) && !fresh.contains_key(&id);
            if keep {
                let r = &self.receivers[&id];
                r.slot.set(next.routers[&id].clone());
            } else if let Some(r) = self.receivers.remove(&id) {
                r.stop.cancel(); // finishes its in-flight requests, then its task ends
            }
        }
        self.receivers.extend(fresh);
        for (id, r) in &self.receivers {
            next.telemetry.receivers.push((id.clone(), r.stats.clone()));
        }
        // The old generation winds down: disk workers stop now (their batches stay queued for
        // the new workers); memory workers drain once the old routers are gone.
        let old = std::mem::replace(&mut self.current, next);
        for w in old.workers {
            if w.durable {
                w.stop.cancel();
            } else if let Some(next) = self.current.successors.get(&w.id) {
                // What the old instance cannot deliver moves to the new one's queue.
                w.hand_over.hand_to(next.clone());
            }
            self.retired.push(w);
        }
        self.retired.retain(|w| !w.task.is_finished());
        *self.telemetry.write().unwrap_or_else(|p| p.into_inner()) =
            Arc::new(std::mem::take(&mut self.current.telemetry));
        tracing::info!(pipelines = config.pipelines.len(), "Configuration reloaded.");
        Ok(())
    }

    /// Stops accepting, finishes in-flight requests, drains queues and flushes exporters.
    pub async fn shutdown(mut self) {
        for r in self.receivers.values() {
            r.stop.cancel();
        }
        for (id, r) in std::mem::take(&mut self.receivers) {
            if let Err(e) = r.task.await {
                tracing::error!(receiver = %id, error = %e, "Receiver task failed during shutdown.");
            }
        }
        self.current.routers.clear();
        // No more appends: disk queues end once drained (or when their workers are stopped).
        for d in self.disks.values() {
            d.close();
        }
        let workers: Vec<Worker> = self.current.workers.drain(..).chain(self.retired.drain(..)).collect();
        // Each exporter drains for its own time; then its worker is stopped (an in-flight
        // request is abandoned, the batch stays queued).
        let deadlines: Vec<JoinHandle<()>> = workers
            .iter()
            .map(|w| {
                let (stop, id, timeout) = (w.stop.clone(), w.id.clone(), w.drain_timeout);
                tokio::spawn(async move {
                    tokio::time::sleep(timeout).await;
                    tracing::warn!(exporter = %id, timeout_ms = timeout.as_millis() as u64, "Queue did not drain in time; what is on disk stays there for the next start, memory batches get one last try.");
                    stop.cancel();
                })
            })
            .collect();
        for w in workers {
            let _ = w.task.await;
        }
        for d in deadlines {
            d.abort();
        }
        self.admin_stop.cancel();
    }
}
