//! `serve --listen ADDR`: `GET /healthz` and `GET /metrics` (Prometheus text) over plain HTTP/1.1. Two
//! read-only endpoints need no web framework: one request per connection, a bounded read, a deadline.
//! Loopback unless the address says otherwise.
//!
//! A client is given [`REQUEST_DEADLINE`] to send its request head, however it spreads the bytes, and
//! is answered 408 after it. Connections are answered on threads of their own, at most
//! [`CONNECTIONS_AT_ONCE`]; further ones wait in the kernel's accept queue. So a client that sends one
//! byte a second holds one slot for a few seconds, and a health probe meanwhile is answered at once.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::metrics::Metrics;

/// `--listen`: `HOST:PORT`, or a bare port (or `:PORT`) on 127.0.0.1.
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let port_only = text.strip_prefix(':').unwrap_or(text);
    if let Ok(port) = port_only.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse::<SocketAddr>()
        .map_err(|_| format!("`{text}` is not HOST:PORT or a port (e.g. 127.0.0.1:9464 or 9464)"))
}

/// Binds now (so a taken port fails before any work) and returns the listener.
pub fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let listener =
        TcpListener::bind(addr).with_context(|| format!("--listen: cannot listen on {addr}"))?;
    listener
        .set_nonblocking(true)
        .context("--listen: cannot set up the listener")?;
    Ok(listener)
}

/// The longest request head the listener reads; a longer one is answered 431.
const REQUEST_HEAD_MAX: usize = 8192;
/// How long a connection has, from its accept, to send its whole request head; it is answered 408 then.
/// Writing the answer has as long again.
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);
/// Connections answered at once; more wait to be accepted until one ends.
const CONNECTIONS_AT_ONCE: usize = 8;

/// Answers requests until `stop` turns true, then waits for the connections in hand (each ends by its
/// deadline).
pub fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    serve_with(listener, metrics, stop, REQUEST_DEADLINE);
}

fn serve_with(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    stop: tokio::sync::watch::Receiver<bool>,
    deadline: Duration,
) {
    let in_hand = Arc::new(AtomicUsize::new(0));
    let idle = || std::thread::sleep(Duration::from_millis(20));
    while !*stop.borrow() {
        if in_hand.load(Ordering::Acquire) >= CONNECTIONS_AT_ONCE {
            idle();
            continue;
        }
        match listener.accept() {
            Ok((stream, _)) => {
                let slot = Slot::take(&in_hand);
                let metrics = Arc::clone(&metrics);
                let spawned = std::thread::Builder::new()
                    .name("listen-conn".to_owned())
                    .spawn(move || {
                        let _slot = slot;
                        // A client gone or too slow has nobody left to tell.
                        let _ = answer(stream, &metrics, deadline);
                    });
                // Out of threads: the connection (moved into the failed closure) is closed.
                if spawned.is_err() {
                    idle();
                }
            }
            Err(_) => idle(),
        }
    }
    while in_hand.load(Ordering::Acquire) > 0 {
        idle();
    }
}

/// One connection's place among [`CONNECTIONS_AT_ONCE`], given back when its thread ends (however).
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(in_hand: &Arc<AtomicUsize>) -> Slot {
        in_hand.fetch_add(1, Ordering::AcqRel);
        Slot(Arc::clone(in_hand))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How the read of a request head ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Head {
    /// Ended by its blank line.
    Whole,
    /// The client closed its side first: answered from what came.
    Closed,
    /// [`REQUEST_HEAD_MAX`] bytes without an end.
    TooLarge,
    /// The deadline passed first.
    Late,
}

/// Reads the whole request head into `buf`, by `deadline` after `started`: though only its first line
/// is used, a socket closed with bytes of the request still unread is reset, and the client may lose
/// the answer (a head sent in several writes, as `Host:` often is, did exactly that).
fn read_head(
    stream: &mut TcpStream,
    buf: &mut [u8],
    started: Instant,
    deadline: Duration,
) -> std::io::Result<(Head, usize)> {
    let mut read = 0;
    loop {
        if read == buf.len() {
            return Ok((Head::TooLarge, read));
        }
        let left = deadline.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Ok((Head::Late, read));
        }
        stream.set_read_timeout(Some(left))?;
        let n = match stream.read(&mut buf[read..]) {
            Ok(0) => return Ok((Head::Closed, read)),
            Ok(n) => n,
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Ok((Head::Late, read));
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        // Only the new bytes (and the three before them) can complete the blank line.
        let from = read.saturating_sub(3);
        read += n;
        if buf[from..read].windows(4).any(|w| w == b"\r\n\r\n") {
            return Ok((Head::Whole, read));
        }
    }
}

fn answer(mut stream: TcpStream, metrics: &Metrics, deadline: Duration) -> std::io::Result<()> {
    let started = Instant::now();
    stream.set_nonblocking(false)?;
    stream.set_write_timeout(Some(deadline))?;
    let mut buf = [0u8; REQUEST_HEAD_MAX];
    let (head, read) = read_head(&mut stream, &mut buf, started, deadline)?;
    let request = String::from_utf8_lossy(&buf[..read]);
    let mut parts = request.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let text = "text/plain; charset=utf-8";
    let (status, content_type, body) = match (head, method, path) {
        (Head::TooLarge, _, _) => (
            "431 Request Header Fields Too Large",
            text,
            format!("the request head is over {REQUEST_HEAD_MAX} bytes\n"),
        ),
        (Head::Late, _, _) => (
            "408 Request Timeout",
            text,
            format!(
                "the request head did not arrive within {} s\n",
                deadline.as_secs_f64()
            ),
        ),
        (_, "GET", "/healthz") => ("200 OK", text, "ok\n".to_owned()),
        (_, "GET", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.render(chrono::Utc::now()),
        ),
        (_, "GET", _) => (
            "404 Not Found",
            text,
            "not found: try /healthz or /metrics\n".to_owned(),
        ),
        _ => ("405 Method Not Allowed", text, "only GET\n".to_owned()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listener on a free loopback port, answering on a thread of its own until the guard drops.
    struct Running {
        addr: SocketAddr,
        stop: tokio::sync::watch::Sender<bool>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Running {
        fn start() -> Running {
            Running::with_deadline(REQUEST_DEADLINE)
        }

        fn with_deadline(deadline: Duration) -> Running {
            let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
            let addr = listener.local_addr().unwrap();
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let metrics = Arc::new(Metrics::default());
            let thread =
                std::thread::spawn(move || serve_with(listener, metrics, stopped, deadline));
            Running {
                addr,
                stop,
                thread: Some(thread),
            }
        }

        /// Sends `pieces` as separate writes, a pause between them, and reads the whole answer.
        fn ask(&self, pieces: &[&[u8]]) -> std::io::Result<String> {
            let mut stream = TcpStream::connect(self.addr)?;
            for piece in pieces {
                stream.write_all(piece)?;
                stream.flush()?;
                std::thread::sleep(Duration::from_millis(30));
            }
            let mut answer = String::new();
            stream.read_to_string(&mut answer)?;
            Ok(answer)
        }
    }

    impl Drop for Running {
        fn drop(&mut self) {
            let _ = self.stop.send(true);
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }

    #[test]
    fn a_request_head_sent_in_pieces_is_read_whole_and_answered() {
        let running = Running::start();
        // The request line first, the headers later: the listener must not answer and close with the
        // headers unread (the socket would be reset and the answer lost).
        for _ in 0..3 {
            let answer = running
                .ask(&[
                    b"GET /healthz HTTP/1.1\r\n",
                    b"Host: 127.0.0.1\r\n",
                    b"User-Agent: test\r\n\r\n",
                ])
                .expect("answered, not reset");
            assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
            assert!(answer.ends_with("\r\n\r\nok\n"), "{answer}");
        }
        let answer = running.ask(&[b"GET /nope HTTP/1.1\r\n\r\n"]).unwrap();
        assert!(answer.starts_with("HTTP/1.1 404 "), "{answer}");
    }

    #[test]
    fn an_endless_request_head_is_refused() {
        let running = Running::start();
        // Exactly as long as the listener reads and never ended: it reads it all, so closing resets
        // nothing and the answer arrives whole.
        let mut head = b"GET /metrics HTTP/1.1\r\n".to_vec();
        while head.len() < REQUEST_HEAD_MAX {
            head.extend_from_slice(b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        head.truncate(REQUEST_HEAD_MAX);
        let mut stream = TcpStream::connect(running.addr).unwrap();
        stream.write_all(&head).unwrap();
        let answer = answer_on(stream);
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    }

    /// Reads what the listener answers on `stream`, until it closes.
    fn answer_on(mut stream: TcpStream) -> String {
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .expect("answered, not reset");
        answer
    }

    #[test]
    fn a_client_dripping_its_request_holds_nobody_up_and_is_cut_off_at_the_deadline() {
        let running = Running::with_deadline(Duration::from_secs(2));
        let answered = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut slow = TcpStream::connect(running.addr).unwrap();
        let dripper = {
            let answered = Arc::clone(&answered);
            std::thread::spawn(move || {
                // A head that never ends, one byte every 50 ms for half a second, then silence.
                slow.write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
                    .unwrap();
                for _ in 0..10 {
                    slow.write_all(b"a").unwrap();
                    std::thread::sleep(Duration::from_millis(50));
                }
                let answer = answer_on(slow);
                answered.store(true, Ordering::SeqCst);
                answer
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        for _ in 0..3 {
            let answer = running.ask(&[b"GET /healthz HTTP/1.1\r\n\r\n"]).unwrap();
            assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
            assert!(
                !answered.load(Ordering::SeqCst),
                "the probe was answered only once the slow client was done with"
            );
        }
        let slow_answer = dripper.join().unwrap();
        assert!(slow_answer.starts_with("HTTP/1.1 408 "), "{slow_answer}");
    }

    #[test]
    fn connections_beyond_the_slots_wait_their_turn_and_are_answered() {
        let running = Running::with_deadline(Duration::from_secs(1));
        // Every slot taken by a client that sends nothing, and one more waiting behind them.
        let idle: Vec<TcpStream> = (0..=CONNECTIONS_AT_ONCE)
            .map(|_| TcpStream::connect(running.addr).unwrap())
            .collect();
        std::thread::sleep(Duration::from_millis(100));
        let probe = running.ask(&[b"GET /healthz HTTP/1.1\r\n\r\n"]).unwrap();
        assert!(probe.starts_with("HTTP/1.1 200 OK\r\n"), "{probe}");
        for stream in idle {
            let answer = answer_on(stream);
            assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
        }
    }

    #[test]
    fn listen_addresses_default_to_loopback() {
        assert_eq!(
            parse_listen("9464").unwrap(),
            "127.0.0.1:9464".parse().unwrap()
        );
        assert_eq!(
            parse_listen(":9464").unwrap(),
            "127.0.0.1:9464".parse().unwrap()
        );
        assert_eq!(
            parse_listen("0.0.0.0:80").unwrap(),
            "0.0.0.0:80".parse().unwrap()
        );
        assert!(parse_listen("localhost").is_err());
    }
}
