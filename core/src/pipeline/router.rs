//! What a receiver hands a decoded request to: the pipelines it feeds, per signal. Runs the
//! processors inline, encodes once per pipeline and enqueues into every exporter queue, all
//! or nothing. Architecture Invariant: processors run before anything is queued, and a
//! request is either in every queue it should reach or in none.

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
}

/// The pipelines one receiver feeds.
pub struct Router {
    by_signal: [Vec<PipelineRoute>; 3],
    budget: InflightBudget,
    auth: Option<Arc<Authenticator>>,
    integration: Arc<Integration>,
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
        Router { by_signal, budget, auth, integration }
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
        let permit = self.budget.resize(body_permit, total).map(Arc::new).ok_or_else(|| {
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
            if *records == 0 && !route.processors.is_empty() && accepted.records > 0 {
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
        Ok(accepted)
    }
}

fn queue_full(q: &QueueHandle) -> Rejection {
    Rejection::unavailable(
        format!("the queue of exporter {} is full ({} bytes); retry later", q.state.id, q.state.capacity()),
        RETRY_AFTER,
    )
}
