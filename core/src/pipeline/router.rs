//! What a receiver hands a request to: the pipelines it feeds, per signal. Runs the
//! processors inline, encodes once per pipeline and enqueues into every exporter queue, all
//! or nothing. When every pipeline of a signal would pass the request on unchanged to
//! exporters that take the client's bytes, the body is checked by the validating scan and
//! queued as received (no decode, no encode). Architecture Invariant: processors run before
//! anything is queued, and a request is either in every queue it should reach or in none.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::batch::{Batch, Context};
use super::component::{Processor, Rejection};
use super::inflight::{InflightBudget, InflightPermit};
use super::queue::{Committed, QueueHandle};
use crate::config::{Integration, PipelineId, WhenFull};
use crate::otlp::common::KeyValue;
use crate::otlp::{Request, Signal};
use crate::processor::auth::{stamp_resources, Authenticated, Authenticator};

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
    /// [`crate::config::ExporterKind::takes_original_bytes`]).
    pub takes_original: bool,
}

/// The pipelines one receiver feeds.
pub struct Router {
    by_signal: [Vec<PipelineRoute>; 3],
    budget: InflightBudget,
    auth: Option<Arc<Authenticator>>,
    integration: Arc<Integration>,
    /// Per signal: requests pass through unchanged (see [`Router::scan_original`]).
    originals: [bool; 3],
}

/// What an accepted request turned into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// Records in the request as received.
    pub records: usize,
}

fn slot(signal: Signal) -> usize {
    match signal {
        Signal::Logs => 0,
        Signal::Metrics => 1,
        Signal::Traces => 2,
    }
}

impl Router {
    /// A router over `routes`, drawing on the shared in-flight `budget`.
    pub fn new(
        routes: Vec<PipelineRoute>,
        budget: InflightBudget,
        auth: Option<Arc<Authenticator>>,
        integration: Arc<Integration>,
    ) -> Self {
        let mut by_signal: [Vec<PipelineRoute>; 3] = Default::default();
        for r in routes {
            by_signal[slot(r.id.signal)].push(r);
        }
        // Stamps (principal, integration) change every request; so does any processor.
        let stamps = integration.stamp_integration || auth.as_ref().is_some_and(|a| a.stamps_principal());
        let originals = by_signal.each_ref().map(|routes| {
            !stamps && !routes.is_empty() && routes.iter().all(|r| r.processors.is_empty() && r.takes_original)
        });
        Router { by_signal, budget, auth, integration, originals }
    }

    /// When this signal's pipelines pass requests on unchanged to exporters that take the
    /// client's bytes, checks `body` with the validating scan ([`crate::otlp::scan`]) and
    /// returns its record count: the body can then go to [`Router::ingest_original`] without
    /// being decoded. `None`: decode it (other pipelines, a body the scan is unsure about, or
    /// one that could not be merged with others upstream as it is).
    pub fn scan_original(&self, signal: Signal, body: &[u8]) -> Option<usize> {
        if !self.originals[slot(signal)] {
            return None;
        }
        crate::otlp::scan::scan(signal, body).filter(|s| s.mergeable).map(|s| s.records)
    }

    /// Queues a body that [`Router::scan_original`] accepted, as received, into every exporter
    /// of every pipeline of `signal`. It is charged to the in-flight budget once, however many
    /// queues share it.
    pub async fn ingest_original(
        &self,
        signal: Signal,
        body: Bytes,
        records: usize,
        context: Arc<Context>,
        body_permit: InflightPermit,
    ) -> Result<Accepted, Rejection> {
        let routes = &self.by_signal[slot(signal)];
        let outputs = routes.iter().map(|_| (body.clone(), records)).collect();
        let charge = body.len();
        self.enqueue(signal, outputs, records, charge, context, body_permit).await?;
        Ok(Accepted { records })
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

    /// The integration the requests are for.
    pub fn integration(&self) -> &Arc<Integration> {
        &self.integration
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
        !self.by_signal[slot(signal)].is_empty()
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
        stamp_resources(&mut request, &self.stamps(&context));
        let routes = &self.by_signal[slot(signal)];
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
        let routes = &self.by_signal[slot(signal)];
        let permit = self.budget.resize(body_permit, charge).map(Arc::new).ok_or_else(|| {
            Rejection::unavailable(
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
                        tracing::debug!(exporter = %q.state.id, "Queue full; batch dropped for this exporter (when_full: drop).");
                    }
                    None => return Err(queue_full(q)),
                }
            }
        }
        let mut durable = Vec::new();
        for (reservation, route, body, records) in reserved {
            let committed = reservation.commit(Batch {
                signal,
                pipeline: route.id.clone(),
                body: body.clone(),
                records,
                context: context.clone(),
                _permit: Some(permit.clone()),
            });
            if let Committed::Durable(write) = committed {
                durable.push(write);
            }
        }
        // Answer only once every disk queue holds the batch (one group-commit fsync each).
        for write in durable {
            write.await.map_err(|e| {
                Rejection::unavailable(
                    format!("the exporter queue could not store the batch ({e}); retry later"),
                    RETRY_AFTER,
                )
            })?;
        }
        Ok(())
    }
}

fn queue_full(q: &QueueHandle) -> Rejection {
    Rejection::unavailable(
        format!("the queue of exporter {} is full ({} bytes); retry later", q.state.id, q.state.capacity()),
        RETRY_AFTER,
    )
}
