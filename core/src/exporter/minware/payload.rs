//! A request body held as the pieces it was joined from. Merging queued batches into one
//! upstream request used to copy them all into a new buffer, held beside the queued originals
//! for as long as the request was in flight (up to `max_in_flight` × `max_batch_bytes`);
//! joined, the request is the envelope, each batch's resource list (a slice of the queued body,
//! not a copy), commas and the tail, streamed with an exact `Content-Length`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::otlp::{envelope, resource_lists, Signal};

/// One request body, in one piece or several.
#[derive(Debug, Clone)]
pub struct Payload {
    parts: Arc<[Bytes]>,
    len: usize,
}

impl Payload {
    /// A body in one piece.
    pub fn one(body: Bytes) -> Self {
        let len = body.len();
        Payload { parts: Arc::from([body]), len }
    }

    /// Canonical `signal` request bodies joined into one (their resource lists concatenated),
    /// without copying them; `None` if one is not in the mergeable shape.
    pub fn join(signal: Signal, bodies: &[&Bytes]) -> Option<Self> {
        let slices: Vec<&[u8]> = bodies.iter().map(|b| &b[..]).collect();
        let lists = resource_lists(signal, &slices)?;
        let mut parts = Vec::with_capacity(2 * lists.len() + 2);
        parts.push(Bytes::from_static(envelope(signal)));
        for (n, (i, list)) in lists.into_iter().enumerate() {
            if n > 0 {
                parts.push(Bytes::from_static(b","));
            }
            parts.push(bodies[i].slice(list));
        }
        parts.push(Bytes::from_static(b"]}"));
        let len = parts.iter().map(Bytes::len).sum();
        Some(Payload { parts: parts.into(), len })
    }

    /// Bytes in the body.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the body has no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The pieces, in order.
    pub fn parts(&self) -> &[Bytes] {
        &self.parts
    }

    /// The body in one buffer: free for one piece, a copy otherwise (for the rare paths that
    /// need it whole: a 413 split, the dead letter).
    pub fn contiguous(&self) -> Bytes {
        match &self.parts[..] {
            [one] => one.clone(),
            parts => Bytes::from(parts.concat()),
        }
    }

    /// The body for reqwest, with its exact length (so it is sent with `Content-Length`).
    pub fn to_request_body(&self) -> reqwest::Body {
        match &self.parts[..] {
            [one] => reqwest::Body::from(one.clone()),
            _ => reqwest::Body::wrap(Parts { parts: self.parts.clone(), next: 0, left: self.len as u64 }),
        }
    }
}

/// An `http_body::Body` over the pieces of a [`Payload`].
struct Parts {
    parts: Arc<[Bytes]>,
    next: usize,
    left: u64,
}

impl Body for Parts {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let Some(part) = self.parts.get(self.next).cloned() else {
            return Poll::Ready(None);
        };
        self.next += 1;
        self.left -= part.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(part))))
    }

    fn is_end_stream(&self) -> bool {
        self.next >= self.parts.len()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::merge_encoded;

    #[test]
    fn joined_bodies_are_what_merging_by_copy_gives() {
        let bodies = [
            Bytes::from_static(br#"{"resourceLogs":[{"a":1}]}"#),
            Bytes::from_static(br#"{"resourceLogs":[]}"#),
            Bytes::from_static(br#"{"resourceLogs":[{"b":2},{"c":3}]}"#),
        ];
        let refs: Vec<&Bytes> = bodies.iter().collect();
        let joined = Payload::join(Signal::Logs, &refs).unwrap();
        let slices: Vec<&[u8]> = bodies.iter().map(|b| &b[..]).collect();
        let copied = merge_encoded(Signal::Logs, &slices).unwrap();
        assert_eq!(joined.contiguous(), copied);
        assert_eq!(joined.len(), copied.len());
        // The resource lists are slices of the queued bodies, not copies.
        assert!(joined.parts().iter().any(|p| p.as_ptr() == bodies[2][17..].as_ptr()));
        // Sent with a Content-Length (upstream need not take chunked bodies).
        assert_eq!(http_body::Body::size_hint(&joined.to_request_body()).exact(), Some(copied.len() as u64));
        assert!(Payload::join(Signal::Logs, &[&Bytes::from_static(b"{}")]).is_none());
    }
}
