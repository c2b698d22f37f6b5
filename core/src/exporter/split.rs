//! Halving a batch for a destination that cannot take it whole (minware answered 413, a NATS
//! message over `max_payload`): split at the outermost level that has
//! more than one element (resources, then scopes, then records).

use bytes::Bytes;

use crate::otlp::{Request, Signal};

fn halves<T: Clone>(v: &mut Vec<T>) -> Option<Vec<T>> {
    (v.len() >= 2).then(|| v.split_off(v.len() / 2))
}

/// Two smaller canonical bodies whose union is `body`, or `None` for a single record.
pub fn split(signal: Signal, body: &[u8]) -> Option<(Bytes, Bytes)> {
    let mut a = Request::decode(signal, body).ok()?;
    let mut b = a.clone();
    macro_rules! split_levels {
        ($ra:expr, $rb:expr, $scopes:ident, $items:ident) => {{
            if let Some(tail) = halves(&mut $ra) {
                $rb = tail;
            } else {
                let r0a = $ra.first_mut()?;
                let r0b = $rb.first_mut()?;
                if let Some(tail) = halves(&mut r0a.$scopes) {
                    r0b.$scopes = tail;
                } else {
                    let s0a = r0a.$scopes.first_mut()?;
                    let tail = halves(&mut s0a.$items)?;
                    r0b.$scopes.truncate(1);
                    r0b.$scopes[0].$items = tail;
                }
            }
        }};
    }
    match (&mut a, &mut b) {
        (Request::Logs(x), Request::Logs(y)) => {
            split_levels!(x.resource_logs, y.resource_logs, scope_logs, log_records)
        }
        (Request::Traces(x), Request::Traces(y)) => {
            split_levels!(x.resource_spans, y.resource_spans, scope_spans, spans)
        }
        (Request::Metrics(x), Request::Metrics(y)) => {
            split_levels!(x.resource_metrics, y.resource_metrics, scope_metrics, metrics)
        }
        _ => return None,
    }
    Some((Bytes::from(a.encode()), Bytes::from(b.encode())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_records_of_one_scope_and_keeps_all() {
        let body = br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"a","value":{"stringValue":"b"}}]},"scopeLogs":[{"logRecords":[{"body":{"stringValue":"1"}},{"body":{"stringValue":"2"}},{"body":{"stringValue":"3"}}]}]}]}"#;
        let (x, y) = split(Signal::Logs, body).unwrap();
        let rx = Request::decode(Signal::Logs, &x).unwrap();
        let ry = Request::decode(Signal::Logs, &y).unwrap();
        assert_eq!(rx.records() + ry.records(), 3);
        assert!(String::from_utf8_lossy(&y).contains("\"key\":\"a\""), "the resource goes with each half");
        let one = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{}]}]}]}"#;
        assert!(split(Signal::Logs, one).is_none());
    }
}
