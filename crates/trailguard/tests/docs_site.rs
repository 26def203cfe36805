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
    let metas = trailguard_rules::registry::metas();
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
    for meta in trailguard_rules::registry::metas() {
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

/// Runs the site's own `search.js` (with its `search-index.js`) under Node.js and returns the names of the
/// hits for `query`, best first.
fn search_with_site_script(site: &Path, query: &str) -> Vec<String> {
    let harness = format!(
        "var window = {{ location: {{ search: '' }} }}; var document = {{ getElementById: function () {{ return null; }} }};\n\
         eval(require('fs').readFileSync({index:?}, 'utf8'));\n\
         eval(require('fs').readFileSync({script:?}, 'utf8'));\n\
         console.log(JSON.stringify(window.TRAILGUARD_SEARCH(window.TRAILGUARD_INDEX, {query:?}).map(function (i) {{ return i.name; }})));\n",
        index = site.join("search-index.js").to_string_lossy(),
        script = site.join("search.js").to_string_lossy(),
    );
    let out = Command::new("node")
        .args(["-e", &harness])
        .output()
        .expect("node runs (Node.js is part of the development machine)");
    assert!(
        out.status.success(),
        "search.js failed under node: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON list of names")
}

#[test]
fn search_finds_words_that_only_the_page_bodies_contain() {
    let (_tmp, out) = build_site();
    let index: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(out.join("search-index.json")).expect("index"),
    )
    .expect("JSON");
    let head_text: String = index
        .iter()
        .map(|i| {
            ["name", "title", "service", "tags"]
                .iter()
                .map(|k| i[*k].as_str().unwrap_or("").to_lowercase())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join(" ");
    // For one event page and one rule page: a word of the body that no name, title or tag contains.
    for (kind, name) in [("event", "StopLogging"), ("rule", "CT001")] {
        let item = index
            .iter()
            .find(|i| i["kind"] == kind && i["name"] == name)
            .unwrap_or_else(|| panic!("{name} indexed"));
        let text = item["text"].as_str().expect("the page's words are indexed");
        let word = text
            .split(' ')
            .find(|w| {
                w.len() >= 7
                    && w.chars().all(|c| c.is_ascii_alphabetic())
                    && !head_text.contains(*w)
            })
            .unwrap_or_else(|| panic!("{name}: no body-only word in {text}"));
        let hits = search_with_site_script(&out, word);
        assert!(
            hits.iter().any(|h| h == name),
            "searching `{word}` (from the body of {name}) does not find it: {hits:?}"
        );
        // Every hit really holds the word: the body match is not a match-everything.
        for hit in &hits {
            let hit_item = index.iter().find(|i| i["name"] == hit.as_str()).unwrap();
            assert!(
                hit_item.to_string().to_lowercase().contains(word),
                "{hit} matched `{word}` without containing it"
            );
        }
        assert!(hits.len() < index.len(), "`{word}` matched every page");
    }
    // Names still rank first: the page named by the query leads its results.
    assert_eq!(
        search_with_site_script(&out, "stoplogging")
            .first()
            .map(String::as_str),
        Some("StopLogging")
    );
    assert!(search_with_site_script(&out, "zzqxj-no-such-word").is_empty());
}
