//! The load generator: N keep-alive HTTP/1.1 connections, each posting the same body in a
//! loop for a fixed time after a warm-up, recording every latency.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

/// Figures of one run.
pub struct Report {
    /// Measured wall time.
    pub elapsed: Duration,
    /// Latencies of measured requests.
    pub latencies: Vec<Duration>,
    /// Responses other than 2xx.
    pub non_2xx: u64,
    /// The first refusal's status and body, to say why (e.g. which limit was hit).
    pub first_refusal: Option<String>,
    /// Body bytes per request.
    pub body_len: usize,
    /// Records per request.
    pub records: usize,
}

impl Report {
    /// Requests per second.
    pub fn rps(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// Body megabytes (10^6) per second.
    pub fn mbps(&self) -> f64 {
        self.rps() * self.body_len as f64 / 1e6
    }

    /// Body megabytes per second of 2xx answers only (what the target really took).
    pub fn accepted_mbps(&self) -> f64 {
        (self.latencies.len() as u64).saturating_sub(self.non_2xx) as f64 * self.body_len as f64
            / self.elapsed.as_secs_f64()
            / 1e6
    }

    /// The 99th percentile latency.
    pub fn p99(&self) -> Duration {
        self.pct(0.99)
    }

    /// A latency percentile (0.0–1.0).
    pub fn pct(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let mut v = self.latencies.clone();
        v.sort_unstable();
        v[((v.len() - 1) as f64 * p) as usize]
    }

    /// The table header.
    pub fn header() -> String {
        format!(
            "{:<34} {:>9} {:>8} {:>11} {:>8} {:>8} {:>8} {:>6} {:>9} {:>7}",
            "target", "req/s", "MB/s", "records/s", "p50 ms", "p99 ms", "p999 ms", "CPU%", "RSS MiB", "non2xx"
        )
    }

    /// One table row.
    pub fn row(&self, name: &str, cpu: Option<f64>, rss_kib: Option<u64>) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "{:<34} {:>9.0} {:>8.1} {:>11.0} {:>8.2} {:>8.2} {:>8.2} {:>6} {:>9} {:>7}",
            name,
            self.rps(),
            self.mbps(),
            self.rps() * self.records as f64,
            ms(self.pct(0.5)),
            ms(self.pct(0.99)),
            ms(self.pct(0.999)),
            cpu.map_or("-".into(), |c| format!("{c:.0}")),
            rss_kib.map_or("-".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
            self.non_2xx
        )
    }
}

/// Drives `url` with `connections` keep-alive connections for `duration` (after 1 s warm-up).
pub async fn run(
    url: &str,
    body: Bytes,
    records: usize,
    connections: usize,
    duration: Duration,
    bearer: Option<String>,
) -> anyhow::Result<Report> {
    let uri: http::Uri = url.parse()?;
    let authority = uri.authority().ok_or_else(|| anyhow::anyhow!("no host in {url}"))?.clone();
    let warmup = Duration::from_secs(1);
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let body = body.clone();
        let uri = uri.clone();
        let authority = authority.clone();
        let authorization = bearer.as_ref().map(|k| format!("Bearer {k}"));
        tasks.push(tokio::spawn(async move {
            let connect = || async {
                let stream = tokio::net::TcpStream::connect(authority.as_str()).await?;
                stream.set_nodelay(true)?;
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
                tokio::spawn(conn);
                Ok::<_, anyhow::Error>(sender)
            };
            let mut sender = connect().await?;
            let mut lat = Vec::new();
            let mut non_2xx = 0u64;
            let mut refusal: Option<String> = None;
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let mut req = http::Request::post(uri.clone())
                    .header("host", authority.as_str())
                    .header("content-type", "application/json");
                if let Some(a) = &authorization {
                    req = req.header("authorization", a.as_str());
                }
                let req = req.body(Full::new(body.clone()))?;
                let ok = match async {
                    sender.ready().await?;
                    let resp = sender.send_request(req).await?;
                    let status = resp.status();
                    let body = resp.into_body().collect().await?.to_bytes();
                    if !status.is_success() && refusal.is_none() {
                        refusal = Some(format!("{} {}", status.as_u16(), String::from_utf8_lossy(&body)));
                    }
                    Ok::<_, anyhow::Error>(status.is_success())
                }
                .await
                {
                    Ok(ok) => ok,
                    Err(_) => {
                        // A server that refuses before reading the body may close the
                        // connection: count it as a refusal and reconnect.
                        sender = connect().await?;
                        false
                    }
                };
                if t0 >= measure_from {
                    lat.push(t0.elapsed());
                    if !ok {
                        non_2xx += 1;
                    }
                }
            }
            Ok::<_, anyhow::Error>((lat, non_2xx, refusal))
        }));
    }
    let mut latencies = Vec::new();
    let mut non_2xx = 0;
    let mut first_refusal = None;
    for t in tasks {
        let (l, n, why) = t.await??;
        first_refusal = first_refusal.or(why);
        latencies.extend(l);
        non_2xx += n;
    }
    Ok(Report {
        elapsed: Instant::now().saturating_duration_since(measure_from).min(duration + Duration::from_millis(500)),
        latencies,
        non_2xx,
        first_refusal,
        body_len: body.len(),
        records,
    })
}
