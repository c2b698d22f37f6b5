//! What a receiver hands a request to: the pipelines it feeds, per signal. Runs the
//! processors inline, encodes once per pipeline and enqueues into every exporter queue, all
//! or nothing. When every pipeline of a signal feeds only exporters that take the client's
//! bytes and has only [`Piecewise`] processors, the body is checked by the validating scan and
//! queued as received, with just the pieces the processors (or stamps) change re-encoded in
//! place ([`super::patch`]). Architecture Invariant: processors run before anything is queued,
//! and a request is either in every queue it should reach or in none.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::batch::Authenticated;
use super::batch::{Batch, Context};
use super::completion::Settled;
use super::component::Authenticate;
use super::component::{Piecewise, Processor, Rejection, Unavailable};
use super::inflight::{InflightBudget, InflightPermit};
use super::queue::{Committed, Now, QueueHandle};
use crate::otlp::common::KeyValue;
use crate::otlp::{Request, Signal};
use crate::processor::auth::{stamp_records, stamp_resources};
use crate::settings::{Integration, PipelineId, WhenFull};

/// How long clients are told to wait when the gateway is out of room.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// One pipeline as the router runs it.
pub struct PipelineRoute {
    /// The pipeline's id.
    pub id: Arc<PipelineId>,
    /// Its processors, in order.
    pub processors: Vec<Arc<dyn Processor>>,
    /// Its exporters' queues.
    pub exporters: Vec<QueueHandle>,
    /// Every exporter takes the client's bytes as they came (see
    /// [`super::component::Exporter::takes_forwarded_bytes`]).
    pub takes_original: bool,
}

/// The pipelines one receiver feeds.
pub struct Router {
    by_signal: [Vec<PipelineRoute>; 3],
    budget: InflightBudget,
    auth: Option<Arc<dyn Authenticate>>,
    integration: Arc<Integration>,
    /// Per signal: bodies can be passed on as received, patched (see [`Router::pass_on`]).
    byte_level: [bool; 3],
}

/// A request made ready for the queues without decoding it (see [`Router::pass_on`]).
pub struct Prepared {
    /// Records in the request.
    pub records: usize,
    /// One body per route of the signal, in order.
    outputs: Vec<(Bytes, usize)>,
    /// Bytes held in memory for them (a body shared by several routes counts once).
    charge: usize,
}

/// What an accepted request turned into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// Records in the request as received.
    pub records: usize,
}

impl Router {
    /// A router over `routes`, drawing on the shared in-flight `budget`.
    pub fn new(
        routes: Vec<PipelineRoute>,
        budget: InflightBudget,
        auth: Option<Arc<dyn Authenticate>>,
        integration: Arc<Integration>,
    ) -> Self {
        let mut by_signal: [Vec<PipelineRoute>; 3] = Default::default();
        for r in routes {
            by_signal[r.id.signal.index()].push(r);
        }
        let byte_level = by_signal.each_ref().map(|routes| {
            !routes.is_empty()
                && routes.iter().all(|r| r.takes_original && r.processors.iter().all(|p| p.piecewise().is_some()))
        });
        for (routes, fast) in by_signal.iter().zip(byte_level) {
            log_path(routes, fast);
        }
        Router { by_signal, budget, auth, integration, byte_level }
    }

    /// Makes `body` ready for the queues without decoding it, when this signal's pipelines
    /// allow it: checked by the validating scan ([`crate::otlp::scan`]), passed on as received
    /// (blanks between tokens removed: the Codex CLI pretty-prints) to pipelines that change
    /// nothing, and to the others with only the pieces their processors or the stamps change
    /// re-encoded ([`super::patch`]). `None`: decode it (other exporters or processors, a body
    /// the scan is unsure about, one that could not be merged with others upstream, or a piece
    /// that would not decode).
    pub fn pass_on(&self, signal: Signal, body: &Bytes, context: &Context) -> Option<Prepared> {
        if !self.byte_level[signal.index()] {
            return None;
        }
        let routes = &self.by_signal[signal.index()];
        let stamps = self.stamps(context);
        // Stamps in every record are a decode-path job (patching touches resources only).
        if !stamps.is_empty() && self.stamp_on().records() {
            return None;
        }
        let unchanged = |r: &PipelineRoute| r.processors.is_empty() && stamps.is_empty();
        let pieces: Vec<&dyn Piecewise> =
            routes.iter().flat_map(|r| r.processors.iter().filter_map(|p| p.piecewise())).collect();
        let (s, outline) = if routes.iter().all(unchanged) {
            crate::otlp::scan::outline(signal, body, None)?
        } else {
            super::patch::outline(signal, body, &pieces)?
        };
        if !s.mergeable {
            return None;
        }
        // The body as received, compacted once if it has blanks, for the pipelines that change nothing.
        let mut as_received: Option<Bytes> = None;
        let mut outputs = Vec::with_capacity(routes.len());
        let mut charge = 0;
        for r in routes {
            let out = if unchanged(r) {
                if as_received.is_none() {
                    let b = if s.compact {
                        body.clone()
                    } else {
                        let mut out = Vec::with_capacity(body.len());
                        outline.copy_compact(&mut out, body, 0..body.len());
                        Bytes::from(out)
                    };
                    charge += b.len();
                    as_received = Some(b);
                }
                as_received.clone().unwrap_or_default()
            } else {
                let own: Vec<&dyn Piecewise> = r.processors.iter().filter_map(|p| p.piecewise()).collect();
                let patched = Bytes::from(super::patch::patch(body, &outline, &stamps, &own, s.compact)?);
                charge += patched.len();
                patched
            };
            outputs.push((out, s.records));
        }
        Some(Prepared { records: s.records, outputs, charge })
    }

    /// Queues what [`Router::pass_on`] prepared into every exporter of every pipeline of
    /// `signal`, all or nothing.
    pub async fn ingest_prepared(
        &self,
        signal: Signal,
        prepared: Prepared,
        context: Arc<Context>,
        body_permit: InflightPermit,
    ) -> Result<Accepted, Rejection> {
        let Prepared { records, outputs, charge } = prepared;
        self.enqueue(signal, outputs, records, charge, context, body_permit).await?;
        Ok(Accepted { records })
    }

    /// Takes one request body of `signal` from any receiver: passed on as received (patched
    /// where processors change it) when the pipelines allow it and the validating scan checked
    /// it, else decoded and processed. Returns the records it held (0 when it did not decode)
    /// and the outcome; a body that does not decode is a 400 naming where.
    pub async fn accept(
        &self,
        signal: Signal,
        body: &Bytes,
        context: Arc<Context>,
        permit: InflightPermit,
    ) -> (usize, Result<Accepted, Rejection>) {
        match self.pass_on(signal, body, &context) {
            Some(prepared) => (prepared.records, self.ingest_prepared(signal, prepared, context, permit).await),
            None => match Request::decode(signal, body) {
                Ok(request) => (request.records(), self.ingest(request, context, permit).await),
                Err(e) => (0, Err(Rejection::new(400, e.to_string()))),
            },
        }
    }

    /// Runs this receiver's auth on the request headers (before the body is read).
    pub fn authenticate(
        &self,
        headers: &http::HeaderMap,
        client: std::net::SocketAddr,
        cert: Option<&str>,
    ) -> Result<Authenticated, Rejection> {
        match &self.auth {
            Some(a) => a.authenticate(headers, Some(client), cert),
            // Without auth, a client certificate (mTLS) still names the sender.
            None => Ok(Authenticated { principal: cert.map(crate::processor::auth::cert_principal), client_key: None }),
        }
    }

    /// The usage ledger of this receiver's auth, if it keeps one.
    pub fn usage(&self) -> Option<Arc<crate::keys::usage::Ledger>> {
        self.auth.as_ref()?.usage()
    }

    /// The integration the requests are for.
    pub fn integration(&self) -> &Arc<Integration> {
        &self.integration
    }

    fn stamp_on(&self) -> crate::processor::auth::StampOn {
        self.auth.as_ref().map_or_else(Default::default, |a| a.stamp_on())
    }

    fn stamps(&self, context: &Context) -> Vec<KeyValue<'static>> {
        let mut out = match &self.auth {
            Some(a) => a.stamps(context.principal.as_ref()),
            None => Vec::new(),
        };
        if self.integration.stamp_integration {
            out.push(KeyValue::string("otelgate.integration", self.integration.reference_name.clone()));
        }
        out
    }

    /// True when some pipeline takes `signal` from this receiver.
    pub fn accepts(&self, signal: Signal) -> bool {
        !self.by_signal[signal.index()].is_empty()
    }

    /// The shared in-flight budget (the receiver charges request bodies to it).
    pub fn budget(&self) -> &InflightBudget {
        &self.budget
    }

    /// Runs every pipeline of the request's signal and enqueues the results. `body_permit` is
    /// the budget the receiver took for the body; it becomes the batches' share.
    pub async fn ingest(
        &self,
        mut request: Request<'_>,
        context: Arc<Context>,
        body_permit: InflightPermit,
    ) -> Result<Accepted, Rejection> {
        let signal = request.signal();
        let stamps = self.stamps(&context);
        if self.stamp_on().resources() {
            stamp_resources(&mut request, &stamps);
        }
        if self.stamp_on().records() {
            stamp_records(&mut request, &stamps);
        }
        let routes = &self.by_signal[signal.index()];
        let accepted = Accepted { records: request.records() };
        let processing = routes.iter().filter(|r| !r.processors.is_empty()).count();

        // One encoding serves every pipeline without processors; each pipeline with
        // processors works on its own copy, and the last of them takes the original.
        // Encodings come out about the size of the body (what the permit holds once the body is
        // read): start there instead of doubling up.
        let size_hint = body_permit.bytes() + body_permit.bytes() / 8;
        let unprocessed =
            routes.iter().any(|r| r.processors.is_empty()).then(|| Bytes::from(request.encode_sized(size_hint)));
        let mut original = Some(request);
        let mut remaining = processing;
        let mut outputs: Vec<(Bytes, usize)> = Vec::with_capacity(routes.len());
        for route in routes {
            if route.processors.is_empty() {
                let body = unprocessed.clone().unwrap_or_default();
                outputs.push((body, accepted.records));
                continue;
            }
            remaining -= 1;
            let mut req = match remaining {
                0 => original.take(),
                _ => original.clone(),
            }
            .expect("the original request is taken only by the last processing pipeline");
            for p in &route.processors {
                p.process(&mut req, &context).await?;
            }
            outputs.push((Bytes::from(req.encode_sized(size_hint)), req.records()));
        }

        // Charge the encoded batches to the global budget until every exporter is done.
        let total: usize = outputs.iter().map(|(b, _)| b.len()).sum();
        self.enqueue(signal, outputs, accepted.records, total, context, body_permit).await?;
        Ok(accepted)
    }

    /// Puts `outputs` (one per route of `signal`, in order; the request had `received` records)
    /// into every exporter queue of their routes, all or nothing, holding `charge` bytes of the in-flight budget until the last
    /// exporter is done with them.
    async fn enqueue(
        &self,
        signal: Signal,
        outputs: Vec<(Bytes, usize)>,
        received: usize,
        charge: usize,
        context: Arc<Context>,
        body_permit: InflightPermit,
    ) -> Result<(), Rejection> {
        let routes = &self.by_signal[signal.index()];
        let permit = self.budget.resize(body_permit, charge).map(Arc::new).ok_or_else(|| {
            Rejection::unavailable(
                Unavailable::InflightLimit,
                "the gateway is at its in-flight memory limit (limits.max_inflight_bytes); retry later",
                RETRY_AFTER,
            )
        })?;

        // Reserve room in every queue first; dropping the reservations on a refusal leaves
        // nothing behind.
        let mut reserved = Vec::new();
        for (route, (body, records)) in routes.iter().zip(&outputs) {
            // Processors dropped everything: nothing to deliver for this pipeline.
            if *records == 0 && !route.processors.is_empty() && received > 0 {
                continue;
            }
            for q in &route.exporters {
                match q.try_reserve(body.len()) {
                    Some(r) => reserved.push((r, route, body, *records)),
                    None if q.state.when_full == WhenFull::Drop => {
                        q.state.dropped.fetch_add(1, Ordering::Relaxed);
                        if let Some(c) = &context.completion {
                            c.mark_lost();
                        }
                        tracing::debug!(exporter = %q.state.id, "Queue full; batch dropped for this exporter (when_full: drop).");
                    }
                    None => return Err(queue_full(q)),
                }
            }
        }
        // Exporters that deliver before the answer go first, so that a refusal from one of them
        // (a full stream) still leaves every queue untouched; what they cannot take now spills
        // into their reserved room.
        let mut spill = Vec::with_capacity(reserved.len());
        for (reservation, route, body, records) in reserved {
            let batch = Batch {
                signal,
                pipeline: route.id.clone(),
                body: body.clone(),
                records,
                context: context.clone(),
                _permit: Some(permit.clone()),
            };
            match reservation.deliver_now(&batch).await {
                Now::Delivered => {}
                Now::Spill => spill.push((reservation, batch)),
                Now::Refused { message, after } => {
                    return Err(Rejection::unavailable(
                        Unavailable::QueueFull,
                        format!("{message}; retry later"),
                        after,
                    ))
                }
            }
        }
        let mut durable = Vec::new();
        for (reservation, batch) in spill {
            if let Some(c) = &context.completion {
                c.expect();
            }
            if let Committed::Durable(write) = reservation.commit(batch) {
                durable.push(write);
            }
        }
        // Answer only once every disk queue holds the batch (one group-commit fsync each); a
        // batch on disk is settled for the request's notice.
        for write in durable {
            write.await.map_err(|e| {
                Rejection::unavailable(
                    Unavailable::QueueWrite,
                    format!("the exporter queue could not store the batch ({e}); retry later"),
                    RETRY_AFTER,
                )
            })?;
            if let Some(c) = &context.completion {
                c.settle(Settled::Safe);
            }
        }
        // Every batch is handed out: release the router's hold on the notice.
        if let Some(c) = &context.completion {
            c.settle(Settled::Safe);
        }
        Ok(())
    }
}

/// Says once per signal how its requests are handled, so an operator can see why a pipeline is
/// faster or slower than another (see [`Router::pass_on`]).
fn log_path(routes: &[PipelineRoute], fast: bool) {
    let Some(first) = routes.first() else { return };
    let signal = first.id.signal;
    if fast {
        tracing::info!(%signal, "Requests are passed on as received once the scan checked them; only the pieces processors change are re-encoded.");
        return;
    }
    let why = match routes.iter().find(|r| !r.takes_original) {
        Some(r) => format!("pipeline {} has an exporter that writes canonical JSON (stdout, a plugin, or file with encoding: canonical)", r.id),
        None => {
            let r = routes.iter().find(|r| r.processors.iter().any(|p| p.piecewise().is_none())).unwrap_or(first);
            format!("pipeline {} has a processor that needs the decoded request (resource, a plugin, or redact with allowed_keys)", r.id)
        }
    };
    tracing::info!(%signal, "Requests are decoded and re-encoded: {why}.");
}

fn queue_full(q: &QueueHandle) -> Rejection {
    Rejection::unavailable(
        Unavailable::QueueFull,
        format!("the queue of exporter {} is full ({} bytes); retry later", q.state.id, q.state.capacity()),
        RETRY_AFTER,
    )
}

/// The router a running receiver hands requests to; a reload swaps it without touching the
/// listening socket, and requests in flight finish with the router they started with.
pub struct RouterSlot(std::sync::RwLock<Arc<Router>>);

impl RouterSlot {
    /// A slot holding `router`.
    pub fn new(router: Arc<Router>) -> Arc<Self> {
        Arc::new(RouterSlot(std::sync::RwLock::new(router)))
    }

    /// The current router.
    pub fn get(&self) -> Arc<Router> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the router for requests that start from now on.
    pub fn set(&self, router: Arc<Router>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = router;
    }
}
