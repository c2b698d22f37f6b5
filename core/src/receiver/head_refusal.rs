//! A `google.rpc.Status` body for the refusals hyper answers itself.
//!
//! When a request head cannot be parsed (a repeated `Content-Length`, a control byte in a
//! header, a head over `max_header_bytes`), hyper never calls the service: it writes a canned
//! `400`/`431`/`414`/`505` with `content-length: 0` and closes the connection, and has no hook
//! to change it (hyperium/hyper#3225). Every other refusal of the receiver carries a
//! `google.rpc.Status` JSON body, as the README promises, so this wrapper sits between hyper
//! and the socket and gives those canned answers the same body.
//!
//! It recognises hyper's canned head exactly — the status line followed directly by
//! `connection: close` and `content-length: 0` — which no response of the service has (those
//! all start with `content-type`). Everything else passes through untouched.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::pipeline::component::Rejection;

/// The receiver's head limits, named in the 431's message so the operator knows what to raise.
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    /// `max_header_bytes`.
    pub max_bytes: u64,
    /// `max_headers`.
    pub max_headers: usize,
}

impl HeadLimits {
    /// The 431 for a head over these limits (HTTP/1.1 heads through hyper, HTTP/2 header
    /// lists through the receiver itself).
    pub fn refusal(&self) -> Rejection {
        Rejection::new(
            431,
            format!(
                "the request head is larger than this receiver's max_header_bytes ({} bytes) or has more than max_headers ({}) headers; send fewer or smaller headers, or raise those limits in the receiver's settings",
                self.max_bytes, self.max_headers
            ),
        )
    }

    /// Whether an HTTP/2 header list is within the limits, sized as HTTP/2 sizes it (RFC 9113
    /// §6.5.2: name + value + 32 per field).
    pub fn admit(&self, headers: &http::HeaderMap) -> bool {
        let size: u64 = headers.iter().map(|(n, v)| (n.as_str().len() + v.len() + 32) as u64).sum();
        headers.len() <= self.max_headers && size <= self.max_bytes
    }
}

/// A connection whose hyper-made refusals get a `google.rpc.Status` body.
pub struct HeadRefusals<S> {
    inner: S,
    limits: HeadLimits,
    /// A rewritten refusal still to be written, and how much of it was.
    pending: Vec<u8>,
    written: usize,
}

impl<S> HeadRefusals<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, limits: HeadLimits) -> Self {
        HeadRefusals { inner, limits, pending: Vec::new(), written: 0 }
    }
}

/// What hyper writes after the status line of a canned refusal.
const CANNED: &[u8] = b"\r\nconnection: close\r\ncontent-length: 0\r\n";

/// The rewritten response when `buf` is hyper's canned refusal, else `None`.
fn rewrite(buf: &[u8], limits: HeadLimits) -> Option<Vec<u8>> {
    let rest = buf.strip_prefix(b"HTTP/1.1 ")?;
    let code: u16 = std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()?;
    let line_end = buf.windows(2).position(|w| w == b"\r\n")?;
    if !buf[line_end..].starts_with(CANNED) || !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let message = match code {
        400 => "the request is not valid HTTP/1.1, so its head could not be read (for example a repeated Content-Length, a control character in a header, or a malformed request line); fix the client or the proxy in front of otelgate".to_string(),
        431 => limits.refusal().message,
        414 => "the request URI is too long; POST to /v1/logs, /v1/metrics or /v1/traces".to_string(),
        505 => "only HTTP/1.1 and HTTP/2 are served; switch the client to one of them".to_string(),
        _ => return None,
    };
    let rejection = Rejection::new(code, message);
    let body = serde_json::json!({ "code": rejection.grpc_code(), "message": rejection.message }).to_string();
    let mut out = Vec::with_capacity(buf.len() + body.len() + 64);
    out.extend_from_slice(&buf[..line_end]);
    out.extend_from_slice(b"\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ");
    out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    // The remaining headers (hyper's `date`) and the blank line, then the body.
    out.extend_from_slice(&buf[line_end + CANNED.len()..]);
    out.extend_from_slice(body.as_bytes());
    Some(out)
}

impl<S: AsyncWrite + Unpin> HeadRefusals<S> {
    /// Whether `buf` is hyper's canned refusal; if so its rewrite is now pending.
    fn take_canned(&mut self, buf: &[u8]) -> bool {
        if !(buf.starts_with(b"HTTP/1.1 4") || buf.starts_with(b"HTTP/1.1 5")) {
            return false;
        }
        match rewrite(buf, self.limits) {
            Some(out) => {
                self.pending = out;
                true
            }
            None => false,
        }
    }

    /// Writes what is left of a rewritten refusal; ready once none is.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for HeadRefusals<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HeadRefusals<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if self.take_canned(buf) {
            // Taken whole: the rest is written by later calls (or flush/shutdown).
            let _ = self.poll_pending(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        // hyper hands a canned refusal over whole, in one slice.
        if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
            if self.take_canned(first) {
                let _ = self.poll_pending(cx)?;
                return Poll::Ready(Ok(first.len()));
            }
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HeadLimits = HeadLimits { max_bytes: 8192, max_headers: 100 };

    #[test]
    fn hypers_canned_refusals_get_a_status_body() {
        let canned =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 22:58:20 GMT\r\n\r\n";
        let out = String::from_utf8(rewrite(canned, LIMITS).unwrap()).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"));
        assert!(head.contains(&format!("content-length: {}\r\n", body.len())), "{head}");
        assert!(head.ends_with("date: Wed, 02 Dec 2026 22:58:20 GMT"), "{head}");
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["code"], 8);
        assert!(v["message"].as_str().unwrap().contains("max_header_bytes (8192 bytes)"), "{body}");
    }

    #[test]
    fn responses_of_the_service_pass_untouched() {
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{}";
        assert!(rewrite(ours, LIMITS).is_none());
        let partial = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n";
        assert!(rewrite(partial, LIMITS).is_none());
    }
}
