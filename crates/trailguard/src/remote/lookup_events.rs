//! The CloudTrail LookupEvents API as a source: pages are fetched as the pipeline reads, each event's
//! `CloudTrailEvent` JSON written as one line, so the same parser and rules see exactly what a log file
//! would hold. The API allows two requests a second per account and region; the SDK retries throttling
//! and we pace pages so long lookups do not hit it.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_sdk_cloudtrail::Client;
use chrono::{DateTime, Utc};
use trailguard_event::source::Source;

/// Time between page requests: LookupEvents allows 2 per second.
const PAGE_INTERVAL: Duration = Duration::from_millis(550);

/// What to ask LookupEvents for.
#[derive(Debug, Clone, Default)]
pub struct LookupQuery {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// The API takes one attribute: used when exactly one event name is wanted.
    pub event_name: Option<String>,
    /// Stop after this many events (the API can return millions).
    pub max_events: Option<u64>,
}

pub struct LookupEventsSource {
    name: PathBuf,
    client: Client,
    runtime: Arc<tokio::runtime::Runtime>,
    query: LookupQuery,
    /// A stream source: it can be opened once.
    opened: Mutex<bool>,
}

impl LookupEventsSource {
    pub fn new(
        config: &aws_config::SdkConfig,
        runtime: Arc<tokio::runtime::Runtime>,
        query: LookupQuery,
    ) -> Self {
        let region = config
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into());
        LookupEventsSource {
            name: PathBuf::from(format!("cloudtrail:lookup-events:{region}")),
            client: Client::new(config),
            runtime,
            query,
            opened: Mutex::new(false),
        }
    }
}

impl Source for LookupEventsSource {
    fn name(&self) -> &Path {
        &self.name
    }

    fn size_hint(&self) -> Option<u64> {
        None
    }

    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        let mut opened = self
            .opened
            .lock()
            .map_err(|_| io::Error::other("lookup source lock poisoned"))?;
        if *opened {
            return Err(io::Error::other("the LookupEvents stream can be read once"));
        }
        *opened = true;
        Ok(Box::new(PageReader {
            client: self.client.clone(),
            runtime: Arc::clone(&self.runtime),
            query: self.query.clone(),
            next_token: None,
            finished: false,
            buffer: Vec::new(),
            position: 0,
            events: 0,
            last_request: None,
        }))
    }
}

struct PageReader {
    client: Client,
    runtime: Arc<tokio::runtime::Runtime>,
    query: LookupQuery,
    next_token: Option<String>,
    finished: bool,
    buffer: Vec<u8>,
    position: usize,
    events: u64,
    last_request: Option<Instant>,
}

impl PageReader {
    fn fetch_page(&mut self) -> io::Result<()> {
        if let Some(last) = self.last_request {
            let since = last.elapsed();
            if since < PAGE_INTERVAL {
                std::thread::sleep(PAGE_INTERVAL - since);
            }
        }
        self.last_request = Some(Instant::now());
        let mut request = self
            .client
            .lookup_events()
            .max_results(50)
            .set_next_token(self.next_token.take());
        if let Some(start) = self.query.start {
            request = request.start_time(aws_smithy_types::DateTime::from_secs(start.timestamp()));
        }
        if let Some(end) = self.query.end {
            request = request.end_time(aws_smithy_types::DateTime::from_secs(end.timestamp()));
        }
        if let Some(name) = &self.query.event_name {
            let attribute = LookupAttribute::builder()
                .attribute_key(LookupAttributeKey::EventName)
                .attribute_value(name)
                .build()
                .map_err(io::Error::other)?;
            request = request.lookup_attributes(attribute);
        }
        let page = self.runtime.block_on(request.send()).map_err(|e| {
            io::Error::other(format!(
                "LookupEvents: {}",
                aws_sdk_cloudtrail::Error::from(e)
            ))
        })?;
        self.buffer.clear();
        self.position = 0;
        for event in page.events() {
            if self.query.max_events.is_some_and(|max| self.events >= max) {
                self.finished = true;
                break;
            }
            if let Some(json) = event.cloud_trail_event() {
                self.buffer.extend_from_slice(json.trim().as_bytes());
                self.buffer.push(b'\n');
                self.events += 1;
            }
        }
        self.next_token = page.next_token().map(str::to_owned);
        if self.next_token.is_none() {
            self.finished = true;
        }
        Ok(())
    }
}

impl Read for PageReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.position >= self.buffer.len() {
            if self.finished {
                return Ok(0);
            }
            self.fetch_page()?;
        }
        let n = out.len().min(self.buffer.len() - self.position);
        out[..n].copy_from_slice(&self.buffer[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}
