//! `trailguard docs --out DIR`: the static site has one page per event and per rule, an index with a
//! search index and script, cross-links between rules and entries that resolve to real files, and no
//! external assets.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use trailguard_kb::Kb;

fn build_site() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("site");
    let status = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["docs", "--out"])
        .arg(&out)
        .status()
        .expect("trailguard runs");
    assert!(status.success(), "trailguard docs failed: {status}");
    (dir, out)
}

/// Every `href="..."` and `src="..."` value in an HTML page.
fn links(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attr in ["href=\"", "src=\""] {
        let mut rest = html;
        while let Some(start) = rest.find(attr) {
            rest = &rest[start + attr.len()..];
            if let Some(end) = rest.find('"') {
                found.push(rest[..end].to_owned());
                rest = &rest[end..];
            }
        }
    }
    found
}

fn html_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in walk(dir) {
        if entry.extension().is_some_and(|e| e == "html") {
            files.push(entry);
        }
    }
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for item in std::fs::read_dir(dir).expect("readable dir").flatten() {
        let path = item.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn site_has_a_page_per_event_and_rule_and_every_local_link_resolves() {
    let (_tmp, out) = build_site();
    let kb = Kb::builtin();
    let metas = trailguard_rules::rules::all_metas();
    for entry in kb.entries() {
        let page = out.join(format!("events/{}/{}.html", entry.service, entry.event));
        assert!(page.is_file(), "missing {}", page.display());
    }
    for meta in &metas {
        assert!(
            out.join(format!("rules/{}.html", meta.code)).is_file(),
            "missing rule page {}",
            meta.code
        );
    }
    let pages = html_files(&out);
    assert_eq!(
        pages.len(),
        kb.entries().len() + metas.len() + 1,
        "one page per event and rule, plus the index"
    );

    let mut broken = Vec::new();
    for page in &pages {
        let html = std::fs::read_to_string(page).expect("page");
        assert!(html.starts_with("<!doctype html>"), "{}", page.display());
        for link in links(&html) {
            if link.starts_with("https://") || link.starts_with("http://") {
                // Only plain links out (ATT&CK, AWS docs); nothing may be loaded from the network.
                assert!(
                    !link.ends_with(".js") && !link.ends_with(".css"),
                    "external asset {link}"
                );
                continue;
            }
            let target = link.split('#').next().unwrap_or("");
            if target.is_empty() {
                continue;
            }
            let resolved = page.parent().expect("page dir").join(target);
            if !resolved.is_file() {
                broken.push(format!(
                    "{}: {link}",
                    page.strip_prefix(&out).unwrap_or(page).display()
                ));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "{} broken link(s):\n{}",
        broken.len(),
        broken.join("\n")
    );
}

#[test]
fn rules_and_entries_link_to_each_other() {
    let (_tmp, out) = build_site();
    let kb = Kb::builtin();
    let entry = kb.lookup("CreatePolicyVersion").expect("flagship");
    let page =
        std::fs::read_to_string(out.join("events/iam/CreatePolicyVersion.html")).expect("page");
    for code in &entry.rules {
        assert!(
            page.contains(&format!("href=\"../../rules/{code}.html\"")),
            "entry page lacks link to {code}"
        );
    }
    // The python setup block is not shown; the fix is.
    assert!(!page.contains("def document(*actions)"));
    assert!(page.contains("set_default_policy_version"));

    let mut linked_rules = 0;
    for meta in trailguard_rules::rules::all_metas() {
        let rule_page = std::fs::read_to_string(out.join(format!("rules/{}.html", meta.code)))
            .expect("rule page");
        for event in meta.kb_entries {
            if let Some(e) = kb.lookup(event) {
                let href = format!("href=\"../events/{}/{}.html\"", e.service, e.event);
                assert!(
                    rule_page.contains(&href),
                    "{} does not link to {event}",
                    meta.code
                );
                linked_rules += 1;
            }
        }
    }
    assert!(linked_rules > 0, "no rule links to any entry");
}

#[test]
fn search_index_lists_every_page_and_the_index_loads_it() {
    let (_tmp, out) = build_site();
    let index: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(out.join("search-index.json")).expect("index"),
    )
    .expect("JSON");
    let urls: BTreeSet<&str> = index.iter().filter_map(|i| i["url"].as_str()).collect();
    assert_eq!(urls.len(), index.len(), "one index item per page");
    for url in &urls {
        assert!(out.join(url).is_file(), "index points at missing {url}");
    }
    let item = index
        .iter()
        .find(|i| i["name"] == "StopLogging")
        .expect("StopLogging indexed");
    assert_eq!(item["kind"], "event");
    assert!(item["tags"].as_str().unwrap_or("").contains("T1562.008"));
    let js = std::fs::read_to_string(out.join("search-index.js")).expect("js index");
    assert!(js.starts_with("window.TRAILGUARD_INDEX = ["));
    let html = std::fs::read_to_string(out.join("index.html")).expect("index page");
    assert!(html.contains("<script src=\"search-index.js\"></script>"));
    assert!(html.contains("<script src=\"search.js\"></script>"));
    assert!(html.contains("id=\"q\""));
}
