//! Temporary timing probe (deleted after use).
use std::time::Instant;
use serde_json::value::RawValue;
use trailguard_event::Record;
use trailguard_rules::engine::Engine;

#[test]
#[ignore]
fn probe() {
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let t = Instant::now();
    let d = trailguard_policy::PolicyDocument::parse(doc).unwrap();
    let _ = trailguard_policy::analysis::analyze(&d);
    eprintln!("first analyze {:?}", t.elapsed());
    let t = Instant::now();
    for _ in 0..100 { let _ = trailguard_policy::analysis::analyze(&d); }
    eprintln!("analyze admin x100 {:?}", t.elapsed());
    let narrow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let d = trailguard_policy::PolicyDocument::parse(narrow).unwrap();
    let t = Instant::now();
    for _ in 0..100 { let _ = trailguard_policy::analysis::analyze(&d); }
    eprintln!("analyze narrow x100 {:?}", t.elapsed());

    let engine = Engine::builtin();
    let mut files: Vec<_> = walk(std::path::Path::new("/work/main/bench-data/json"));
    files.sort();
    files.truncate(40);
    let texts: Vec<String> = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    #[derive(serde::Deserialize)]
    struct F<'a> { #[serde(borrow, rename = "Records")] records: Vec<&'a RawValue> }
    let parsed: Vec<Vec<Record<'_>>> = texts.iter().map(|t| {
        let f: F<'_> = serde_json::from_str(t).unwrap();
        f.records.into_iter().map(|r| Record::from_raw(r).unwrap()).collect()
    }).collect();
    let t = Instant::now();
    let mut worker = engine.new_worker();
    let mut n = 0;
    for recs in &parsed { for r in recs { worker.visit(r); n += 1; } }
    let visit = t.elapsed();
    let findings = engine.finish(vec![worker]);
    eprintln!("engine: {n} records visit {:?} total {:?} findings {}", visit, t.elapsed(), findings.len());
}

fn walk(p: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)); } else { out.push(p); }
    }
    out
}
