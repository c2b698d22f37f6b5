//! Test doubles of the two component shapes scale-out needs, run through the real config,
//! topology, router and queues: an exporter that delivers before the client's answer (as one
//! publishing to NATS JetStream and waiting for the PubAck) and a receiver that pulls requests
//! and acknowledges each upstream only on its completion notice (as one consuming from
//! JetStream). They show that a scale-out component needs no change to the engine.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{BindError, Delivery, ExporterBuild, ExporterType, QueuePlan, ReceiverType, Started};
use crate::otlp::{Request, Signal};
use crate::pipeline::batch::{Batch, Context};
use crate::pipeline::completion::{Completion, Settled};
use crate::pipeline::component::{ExportError, Exporter};
use crate::pipeline::router::RouterSlot;
use crate::telemetry::ReceiverStats;

/// What the exporter double received, and how its next deliveries fail or wait.
#[derive(Debug, Default)]
struct Upstream {
    bodies: Mutex<Vec<Bytes>>,
    fail_next: AtomicUsize,
    fail_for_good: AtomicBool,
    /// Once a failure is spent, the next delivery waits for `release` (the test's go).
    hold_after_failing: AtomicBool,
    release: tokio::sync::Notify,
}

/// Settings of the exporter double: delivers before the answer.
#[derive(Debug)]
struct BeforeAnswer(Arc<Upstream>);

impl ExporterType for BeforeAnswer {
    fn queue_plan(&self, _: &crate::settings::ComponentId) -> QueuePlan {
        QueuePlan { delivery: Delivery::BeforeAnswer { timeout: Duration::from_secs(2) }, ..QueuePlan::default() }
    }

    fn build(&self, _: &ExporterBuild<'_>) -> Result<Arc<dyn Exporter>, String> {
        Ok(Arc::new(UpstreamExporter(self.0.clone())))
    }
}

struct UpstreamExporter(Arc<Upstream>);

#[async_trait]
impl Exporter for UpstreamExporter {
    async fn export(&self, batch: Batch) -> Result<(), ExportError> {
        let u = &self.0;
        if u.fail_for_good.load(Ordering::SeqCst) {
            return Err(ExportError::Permanent { message: "refused for good".into() });
        }
        if u.fail_next.load(Ordering::SeqCst) > 0 {
            u.fail_next.fetch_sub(1, Ordering::SeqCst);
            return Err(ExportError::Retryable { message: "cluster unavailable".into(), after: None });
        }
        if u.hold_after_failing.swap(false, Ordering::SeqCst) {
            u.release.notified().await;
        }
        u.bodies.lock().unwrap().push(batch.body);
        Ok(())
    }
}

/// One pulled message: its body, then the router's answer and the completion notice.
type Message = (Bytes, oneshot::Sender<Result<(), String>>, oneshot::Sender<Option<Settled>>);

/// Settings of the receiver double: pulls messages from a channel.
#[derive(Debug)]
struct Pulling(Mutex<Option<mpsc::Receiver<Message>>>);

#[async_trait]
impl ReceiverType for Pulling {
    async fn start(
        &self,
        slot: Arc<RouterSlot>,
        _stats: Arc<ReceiverStats>,
        stop: CancellationToken,
    ) -> Result<Started, BindError> {
        let mut inbox = self.0.lock().unwrap().take().expect("started once");
        let task = tokio::spawn(async move {
            loop {
                let (body, answered, settled) = tokio::select! {
                    _ = stop.cancelled() => break,
                    m = inbox.recv() => match m { Some(m) => m, None => break },
                };
                let router = slot.get();
                let (completion, notice) = Completion::new();
                let mut context = Context::new(None);
                context.completion = Some(completion);
                let request = Request::decode(Signal::Logs, &body).expect("a valid test body");
                let permit = router.budget().try_acquire(body.len()).expect("budget");
                let result = router.ingest(request, Arc::new(context), permit).await;
                let ok = result.is_ok();
                let _ = answered.send(result.map(drop).map_err(|r| r.message));
                // Acknowledge upstream only on the notice (none: redeliver).
                if ok {
                    tokio::spawn(async move { settled.send(notice.await.ok()) });
                }
            }
        });
        Ok(Started { addr: None, task })
    }

    fn same_listener(&self, _: &dyn ReceiverType) -> bool {
        false
    }
}

const BODY: &[u8] = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"hi"}}]}]}]}"#;

/// Sends one message; the answer, then (once `between` ran) the notice.
async fn send(tx: &mpsc::Sender<Message>, between: impl FnOnce()) -> (Result<(), String>, Option<Settled>) {
    let (answered, answer) = oneshot::channel();
    let (settled, notice) = oneshot::channel();
    tx.send((Bytes::from_static(BODY), answered, settled)).await.unwrap();
    let answer = answer.await.unwrap();
    between();
    let notice = tokio::time::timeout(Duration::from_secs(10), notice).await.ok().and_then(Result::ok).flatten();
    (answer, notice)
}

#[tokio::test]
async fn delivery_before_the_answer_spills_to_the_queue_and_the_notice_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.yaml");
    std::fs::write(
        &file,
        "receivers: { otlp_http: { endpoint: '127.0.0.1:0' } }\n\
         exporters: { nop: }\n\
         pipelines: { logs: { receivers: [otlp_http], exporters: [nop] } }\n",
    )
    .unwrap();
    let mut config = crate::config::load(&file).unwrap();
    let upstream = Arc::new(Upstream::default());
    let (tx, rx) = mpsc::channel(4);
    let id = crate::settings::ComponentId::parse("otlp_http");
    config.receivers.insert(id, Arc::new(Pulling(Mutex::new(Some(rx)))));
    config.exporters.get_mut(&crate::settings::ComponentId::parse("nop")).unwrap().kind =
        Arc::new(BeforeAnswer(upstream.clone()));
    let running = crate::pipeline::topology::start(&config).await.unwrap();
    assert!(running.local_addrs().is_empty(), "a pulling receiver listens nowhere");

    let delivered = || upstream.bodies.lock().unwrap().len();
    // Upstream takes it: delivered before the answer, and the notice says safe.
    let (answer, notice) = send(&tx, || assert_eq!(delivered(), 1, "delivered before the answer")).await;
    assert_eq!((answer, notice), (Ok(()), Some(Settled::Safe)));

    // Upstream unavailable: the request is still answered (the batch spilled into the queue)
    // while upstream has nothing new; the queue delivers it once upstream is back, and only
    // then comes the notice.
    upstream.fail_next.store(1, Ordering::SeqCst);
    upstream.hold_after_failing.store(true, Ordering::SeqCst);
    let (answer, notice) = send(&tx, || {
        assert_eq!(delivered(), 1, "not delivered before the answer");
        upstream.release.notify_one();
    })
    .await;
    assert_eq!((answer, notice), (Ok(()), Some(Settled::Safe)));
    assert_eq!(delivered(), 2, "delivered exactly once more, from the queue");

    // Refused for good: answered (spilled), then lost; the notice says so.
    upstream.fail_for_good.store(true, Ordering::SeqCst);
    let (answer, notice) = send(&tx, || {}).await;
    assert_eq!((answer, notice), (Ok(()), Some(Settled::Lost)));
    assert_eq!(delivered(), 2);
    running.shutdown().await;
}
