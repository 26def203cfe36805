//! Memory stays flat however large the input: ~120 MB of CloudTrail (as one stream, and gzip-compressed)
//! is scanned while a counting allocator records the peak of live heap bytes. The input is generated on
//! the fly, so the only large allocations are the pipeline's own.
//!
//! One test per binary: the allocator counts the whole process.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use flate2::read::GzEncoder;
use flate2::Compression;
use trailguard_event::source::{ReaderSource, Source};
use trailguard_event::synth::Synth;
use trailguard_event::{scan_sources, CollectErrors, Filter, Record, RecordVisitor};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// `{"Records":[...]}` with `records` synthetic events, produced as it is read.
struct Generated {
    synth: Synth,
    left: usize,
    pending: Vec<u8>,
    at: usize,
    bytes: u64,
}

impl Generated {
    fn new(records: usize) -> Self {
        let start: DateTime<Utc> = DateTime::from_timestamp(1_709_251_200, 0).unwrap();
        Generated {
            synth: Synth::new(99, start),
            left: records,
            pending: b"{\"Records\":[".to_vec(),
            at: 0,
            bytes: 0,
        }
    }
}

impl Read for Generated {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at == self.pending.len() {
            self.pending.clear();
            self.at = 0;
            match self.left {
                0 => return Ok(0),
                left => {
                    self.pending
                        .extend_from_slice(self.synth.next_record().as_bytes());
                    self.pending
                        .extend_from_slice(if left == 1 { b"]}" } else { b",\n" });
                    self.left -= 1;
                }
            }
        }
        let n = out.len().min(self.pending.len() - self.at);
        out[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
        self.at += n;
        self.bytes += n as u64;
        Ok(n)
    }
}

#[derive(Default)]
struct Count(u64);

impl RecordVisitor for Count {
    fn visit(&mut self, record: &Record<'_>) {
        assert!(!record.event_name.is_empty());
        self.0 += 1;
    }
}

const RECORDS: usize = 60_000;

fn scan_stream(source: ReaderSource) -> (u64, u64, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let errors = CollectErrors::default();
    let sources: Vec<Box<dyn Source>> = vec![Box::new(source)];
    let (visitors, stats) =
        scan_sources(sources, &Filter::default(), 2, Count::default, &errors).unwrap();
    assert!(errors.take().is_empty());
    let peak = PEAK.load(Ordering::Relaxed) - before;
    eprintln!(
        "peak heap {} KiB for {} MB of input",
        peak >> 10,
        stats.bytes_uncompressed / 1_000_000
    );
    (
        visitors.iter().map(|v| v.0).sum(),
        stats.bytes_uncompressed,
        peak,
    )
}

#[test]
fn peak_heap_stays_flat_for_a_large_stream() {
    const LIMIT: usize = 32 << 20;
    let (records, bytes, peak) = scan_stream(ReaderSource::new("-", Generated::new(RECORDS)));
    assert_eq!(records, RECORDS as u64);
    assert!(
        bytes > 75_000_000,
        "input too small to show anything: {bytes}"
    );
    assert!(
        peak < LIMIT,
        "peak heap {} MB for {} MB of input",
        peak >> 20,
        bytes >> 20
    );

    let gz = GzEncoder::new(Generated::new(RECORDS), Compression::fast());
    let (records, bytes, peak) = scan_stream(ReaderSource::new("-.gz", gz));
    assert_eq!(records, RECORDS as u64);
    assert!(bytes > 75_000_000);
    assert!(
        peak < LIMIT,
        "gzip: peak heap {} MB for {} MB of input",
        peak >> 20,
        bytes >> 20
    );
}
