//! `serve --listen ADDR`: `GET /healthz` and `GET /metrics` (Prometheus text) over plain HTTP/1.1 on a
//! thread of its own. Two read-only endpoints need no web framework: one request per connection, a
//! bounded read, a short timeout. Loopback unless the address says otherwise.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

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

/// Answers requests until `stop` turns true.
pub fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = answer(stream, &metrics);
            }
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// The longest request head the listener reads; a longer one is answered 431.
const REQUEST_HEAD_MAX: usize = 8192;

fn answer(mut stream: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut buf = [0u8; REQUEST_HEAD_MAX];
    let mut read = 0;
    // The whole request head, though only its first line is used: a socket closed with bytes of the
    // request still unread is reset, and the client may lose the answer (a head sent in several
    // writes, as `Host:` often is, did exactly that).
    let complete = loop {
        if buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
            break true;
        }
        if read == buf.len() {
            break false;
        }
        let n = stream.read(&mut buf[read..])?;
        if n == 0 {
            break false;
        }
        read += n;
    };
    let request = String::from_utf8_lossy(&buf[..read]);
    let mut parts = request.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, content_type, body) = match (method, path) {
        _ if !complete && read == buf.len() => (
            "431 Request Header Fields Too Large",
            "text/plain; charset=utf-8",
            format!("the request head is over {REQUEST_HEAD_MAX} bytes\n"),
        ),
        ("GET", "/healthz") => ("200 OK", "text/plain; charset=utf-8", "ok\n".to_owned()),
        ("GET", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.render(chrono::Utc::now()),
        ),
        ("GET", _) => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "not found: try /healthz or /metrics\n".to_owned(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "only GET\n".to_owned(),
        ),
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
            let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
            let addr = listener.local_addr().unwrap();
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let metrics = Arc::new(Metrics::default());
            let thread = std::thread::spawn(move || serve(listener, metrics, stopped));
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
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .expect("answered, not reset");
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
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
