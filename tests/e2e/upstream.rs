//! A scripted OTLP/HTTP upstream on loopback standing in for minware: it answers a chosen
//! sequence of replies (then 200 forever) and records every request it received.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Status, extra headers, body.
    Status(u16, Vec<(String, String)>, String),
    /// Close the connection without answering.
    Drop,
    /// Answer 200, but only after this long (an upstream that hangs).
    Hang(std::time::Duration),
}

impl Reply {
    /// A bare status with an empty JSON body.
    pub fn status(s: u16) -> Reply {
        Reply::Status(s, vec![], "{}".into())
    }
}

/// A received request.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The status it was answered with (0: dropped).
    pub answered: u16,
    /// When it arrived, to measure the gaps a retry schedule leaves.
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The server.
pub struct Upstream {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
}

fn serve(
    mut s: TcpStream,
    script: Arc<Mutex<VecDeque<Reply>>>,
    received: Arc<Mutex<Vec<Received>>>,
    deny: Option<String>,
) {
    let mut reader = BufReader::new(s.try_clone().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let len: usize =
            headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let denied = deny
            .as_ref()
            .is_some_and(|d| headers.iter().any(|(k, v)| k == "authorization" && *v == format!("Bearer {d}")));
        let reply = if denied {
            Reply::status(401)
        } else {
            script.lock().unwrap().pop_front().unwrap_or_else(|| Reply::status(200))
        };
        let answered = match &reply {
            Reply::Drop => 0,
            Reply::Hang(_) => 200,
            Reply::Status(s, _, _) => *s,
        };
        received.lock().unwrap().push(Received { path, headers, body, answered, at: Instant::now() });
        let reply = match reply {
            Reply::Hang(d) => {
                std::thread::sleep(d);
                Reply::status(200)
            }
            other => other,
        };
        match reply {
            Reply::Drop | Reply::Hang(_) => return,
            Reply::Status(status, extra, text) => {
                let mut resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
                    text.len()
                );
                for (k, v) in extra {
                    resp.push_str(&format!("{k}: {v}\r\n"));
                }
                resp.push_str("\r\n");
                resp.push_str(&text);
                if s.write_all(resp.as_bytes()).is_err() {
                    return;
                }
            }
        }
    }
}

impl Upstream {
    /// Starts the server with a script.
    pub fn start(script: Vec<Reply>) -> Upstream {
        Self::start_denying(script, None)
    }

    /// Starts the server; requests with `Authorization: Bearer DENY` always get 401.
    pub fn start_denying(script: Vec<Reply>, deny: Option<&str>) -> Upstream {
        Self::serve_on(TcpListener::bind("127.0.0.1:0").unwrap(), script, deny)
    }

    /// Starts the server on a chosen port (an upstream that comes up after the relay).
    pub fn start_on(port: u16) -> Upstream {
        Self::serve_on(TcpListener::bind(("127.0.0.1", port)).unwrap(), vec![], None)
    }

    fn serve_on(listener: TcpListener, script: Vec<Reply>, deny: Option<&str>) -> Upstream {
        let deny = deny.map(String::from);
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let (r, sc) = (received.clone(), script.clone());
        std::thread::spawn(move || {
            for s in listener.incoming().flatten() {
                let (r, sc, d) = (r.clone(), sc.clone(), deny.clone());
                std::thread::spawn(move || serve(s, sc, r, d));
            }
        });
        Upstream { addr, received }
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests answered 2xx so far.
    pub fn accepted(&self) -> Vec<Received> {
        self.received.lock().unwrap().iter().filter(|r| (200..300).contains(&r.answered)).cloned().collect()
    }

    /// All requests so far.
    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}
