//! Quick speed check of the pipeline against a whole-file parse, on a synthetic corpus.
//! `cargo run --release -p trailguard-event --example pipeline_speed -- DIR [MB]`

use std::io::{Read, Write};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use trailguard_event::source::{discover, open_decoded};
use trailguard_event::synth::Synth;
use trailguard_event::{scan, NoopObserver, Record, RecordVisitor, ScanOptions};

#[derive(Default)]
struct Count(u64);
impl RecordVisitor for Count {
    fn visit(&mut self, r: &Record<'_>) {
        std::hint::black_box(r);
        self.0 += 1;
    }
}

#[derive(serde::Deserialize)]
struct File<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(&args[1]);
    let mb: usize = args.get(2).map_or(100, |s| s.parse().unwrap());
    if !dir.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        let start: DateTime<Utc> = DateTime::from_timestamp(1_709_251_200, 0).unwrap();
        let mut total = 0;
        let mut i = 0;
        while total < mb * 1_000_000 {
            let mut s = Synth::new(i, start);
            let recs: Vec<String> = (0..1000).map(|_| s.next_record()).collect();
            let text = format!("{{\"Records\":[{}]}}", recs.join(","));
            total += text.len();
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            e.write_all(text.as_bytes()).unwrap();
            std::fs::write(dir.join(format!("f{i:05}.json.gz")), e.finish().unwrap()).unwrap();
            i += 1;
        }
        println!("generated {i} files, {total} bytes");
    }
    let found = discover(std::slice::from_ref(&dir)).unwrap();
    let t = Instant::now();
    let mut buf = Vec::new();
    let mut n = 0;
    let mut bytes = 0;
    for s in &found.sources {
        buf.clear();
        open_decoded(s.as_ref()).unwrap().reader.read_to_end(&mut buf).unwrap();
        bytes += buf.len();
    }
    println!("decompress 1 thread: {:.2}s {} MB", t.elapsed().as_secs_f64(), bytes / 1_000_000);
    let t = Instant::now();
    for s in &found.sources {
        buf.clear();
        open_decoded(s.as_ref()).unwrap().reader.read_to_end(&mut buf).unwrap();
        let f: File = serde_json::from_slice(&buf).unwrap();
        for r in f.records {
            let rec = Record::from_raw(r).unwrap();
            std::hint::black_box(&rec);
            n += 1;
        }
    }
    println!("parse 1 thread: {:.2}s {n} records", t.elapsed().as_secs_f64());
    for threads in [1, 2] {
        let t = Instant::now();
        let opts = ScanOptions { inputs: vec![dir.clone()], threads, ..Default::default() };
        let (_, stats) = scan(&opts, Count::default, &NoopObserver).unwrap();
        println!("pipeline {threads} threads: {:.2}s {} records", t.elapsed().as_secs_f64(), stats.records_matched);
    }
}
