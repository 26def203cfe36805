//! `trailguard docs --out DIR`: the knowledge base and the rule docs as a static site.
//!
//! One page per event (`events/<service>/<Event>.html`) and per rule (`rules/<CODE>.html`), an index with
//! client-side search over a JSON index (also shipped as `search-index.js`, so the search works from
//! `file://` where browsers refuse to fetch), one stylesheet and one script. No external assets, nothing
//! fetched from the network. Rules link to their entries and entries to the rules that detect them.
//!
//! The search covers each page's whole text, not only its name: every index item carries `text`, the
//! distinct words of the entry's body (or the rule's doc) in lower case, and `search.js` matches the typed
//! words against name, title, service, tags and that text, ranking name and title hits first. The matching
//! function is `window.TRAILGUARD_SEARCH(index, query)`, so it can be run outside a browser (the tests do).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use pulldown_cmark::{html, Options, Parser};
use trailguard_kb::{Entry, Kb};
use trailguard_rules::RuleMeta;

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  trailguard docs --out site && xdg-open site/index.html")]
pub struct DocsArgs {
    /// Directory to write the site into (created if missing; existing pages are overwritten).
    #[arg(long, short)]
    pub out: PathBuf,
}

pub fn run(args: DocsArgs) -> anyhow::Result<ExitCode> {
    let kb = Kb::builtin();
    for error in kb.errors() {
        eprintln!("warning: knowledge-base entry skipped: {error}");
    }
    let metas = trailguard_rules::registry::metas();
    let summary = write_site(&args.out, kb, &metas)?;
    eprintln!(
        "wrote {} event pages and {} rule pages to {} (open {})",
        summary.events,
        summary.rules,
        args.out.display(),
        args.out.join("index.html").display()
    );
    Ok(if kb.errors().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// What [`write_site`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteSummary {
    pub events: usize,
    pub rules: usize,
}

/// Writes the whole site under `out`.
pub fn write_site(out: &Path, kb: &Kb, metas: &[&RuleMeta]) -> anyhow::Result<SiteSummary> {
    let write = |relative: &str, content: &str| -> anyhow::Result<()> {
        let path = out.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("creating `{}`", parent.display()))?;
        }
        fs::write(&path, content).with_context(|| format!("writing `{}`", path.display()))
    };
    write("style.css", STYLE)?;
    write("search.js", SEARCH_JS)?;

    let mut index = Vec::new();
    for entry in kb.entries() {
        let page = event_page(entry, kb, metas);
        write(&event_path(entry), &page)?;
        index.push(serde_json::json!({
            "kind": "event",
            "name": entry.event,
            "service": entry.service,
            "title": entry.title,
            "severity": entry.severity,
            "tags": format!("{} {} {}", entry.risks.join(" "), entry.attack.join(" "), entry.rules.join(" ")),
            "url": event_path(entry),
            "text": search_words(&entry.body_without_setup()),
        }));
    }
    for meta in metas {
        let page = rule_page(meta, kb);
        write(&rule_path(meta), &page)?;
        index.push(serde_json::json!({
            "kind": "rule",
            "name": meta.code,
            "service": meta.family,
            "title": format!("{}: {}", meta.name, meta.title),
            "severity": meta.severity,
            "tags": format!("{} {}", meta.attack.join(" "), meta.kb_entries.join(" ")),
            "url": rule_path(meta),
            "text": search_words(&[meta.doc.what, meta.doc.why, meta.doc.example, meta.doc.fix].join("\n")),
        }));
    }
    let index_json = serde_json::to_string(&index)?;
    write("search-index.json", &index_json)?;
    write(
        "search-index.js",
        &format!("window.TRAILGUARD_INDEX = {index_json};\n"),
    )?;
    write("index.html", &index_page(kb, metas))?;
    Ok(SiteSummary {
        events: kb.entries().len(),
        rules: metas.len(),
    })
}

fn event_path(entry: &Entry) -> String {
    format!("events/{}/{}.html", entry.service, entry.event)
}

fn rule_path(meta: &RuleMeta) -> String {
    format!("rules/{}.html", meta.code)
}

/// HTML-escapes text for element content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The distinct words of a Markdown text (prose, inline code and code blocks), lower-cased, in order of
/// first use: what the search matches page bodies against, without shipping every page twice.
fn search_words(markdown: &str) -> String {
    use pulldown_cmark::Event;
    let mut seen = std::collections::HashSet::new();
    let mut words = Vec::new();
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        let (Event::Text(text) | Event::Code(text)) = event else {
            continue;
        };
        let lower = text.to_lowercase();
        for word in lower
            .split(|c: char| c.is_whitespace() || "\"'`,;()[]{}<>".contains(c))
            .map(|w| w.trim_matches(|c: char| c == '.' || c == ':'))
            .filter(|w| !w.is_empty())
        {
            if seen.insert(word.to_owned()) {
                words.push(word.to_owned());
            }
        }
    }
    words.join(" ")
}

fn markdown_to_html(markdown: &str) -> String {
    let mut out = String::new();
    html::push_html(&mut out, Parser::new_ext(markdown, Options::ENABLE_TABLES));
    out
}

/// A page shell; `root` is the relative path back to the site root (`../../`).
fn page(title: &str, root: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} · trailguard</title>\n<link rel=\"stylesheet\" href=\"{root}style.css\">\n</head>\n<body>\n\
         <header><a class=\"home\" href=\"{root}index.html\">trailguard</a> <span class=\"sub\">knowledge base &amp; rules</span></header>\n\
         <main>\n{body}\n</main>\n</body>\n</html>\n",
        esc(title)
    )
}

fn severity_badge(severity: &str) -> String {
    format!("<span class=\"sev sev-{0}\">{0}</span>", esc(severity))
}

fn event_page(entry: &Entry, kb: &Kb, metas: &[&RuleMeta]) -> String {
    let root = "../../";
    let mut body = format!(
        "<h1>{}</h1>\n<p class=\"lead\">{} {} <code>{}</code></p>\n<dl class=\"meta\">\n",
        esc(&entry.event),
        esc(&entry.title),
        severity_badge(entry.severity.as_str()),
        esc(&entry.source)
    );
    body.push_str(&format!(
        "<dt>Risks</dt><dd>{}</dd>\n",
        esc(&entry.risks.join(", "))
    ));
    let attack: Vec<String> = entry
        .attack
        .iter()
        .map(|t| {
            let path = t.replace('.', "/");
            format!(
                "<a href=\"https://attack.mitre.org/techniques/{}/\">{}</a>",
                esc(&path),
                esc(t)
            )
        })
        .collect();
    body.push_str(&format!(
        "<dt>ATT&amp;CK</dt><dd>{}</dd>\n",
        or_none(&attack)
    ));
    let rules: Vec<String> = entry
        .rules
        .iter()
        .map(|code| match metas.iter().find(|m| m.code == code) {
            Some(meta) => format!(
                "<a href=\"{root}{}\">{} {}</a>",
                rule_path(meta),
                esc(code),
                esc(meta.name)
            ),
            None => esc(code),
        })
        .collect();
    body.push_str(&format!(
        "<dt>Detected by</dt><dd>{}</dd>\n",
        or_none(&rules)
    ));
    let related: Vec<String> = entry
        .related
        .iter()
        .map(|name| {
            match kb
                .lookup(&format!("{}:{name}", entry.service))
                .or_else(|| kb.lookup(name))
            {
                Some(other) => format!("<a href=\"{root}{}\">{}</a>", event_path(other), esc(name)),
                None => esc(name),
            }
        })
        .collect();
    body.push_str(&format!(
        "<dt>Related</dt><dd>{}</dd>\n</dl>\n",
        or_none(&related)
    ));
    body.push_str(&markdown_to_html(&entry.body_without_setup()));
    page(&entry.event, root, &format!("<article>{body}</article>"))
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

fn rule_page(meta: &RuleMeta, kb: &Kb) -> String {
    let root = "../";
    let mut body = format!(
        "<h1>{} <span class=\"slug\">{}</span></h1>\n<p class=\"lead\">{} {}</p>\n<dl class=\"meta\">\n",
        esc(meta.code),
        esc(meta.name),
        esc(meta.title),
        severity_badge(meta.severity.as_str())
    );
    body.push_str(&format!(
        "<dt>Family</dt><dd>{}</dd>\n",
        esc(&format!("{:?}", meta.family).to_lowercase())
    ));
    let attack: Vec<String> = meta.attack.iter().map(|t| esc(t)).collect();
    body.push_str(&format!(
        "<dt>ATT&amp;CK</dt><dd>{}</dd>\n",
        or_none(&attack)
    ));
    let compliance: Vec<String> = meta.compliance.iter().map(|c| esc(c)).collect();
    body.push_str(&format!(
        "<dt>Compliance</dt><dd>{}</dd>\n",
        or_none(&compliance)
    ));
    let events: Vec<String> = meta
        .events
        .iter()
        .map(|(source, event)| match kb.get(source, event) {
            Some(entry) => format!("<a href=\"{root}{}\">{}</a>", event_path(entry), esc(event)),
            None => format!("{} <code>{}</code>", esc(event), esc(source)),
        })
        .collect();
    body.push_str(&format!("<dt>Events</dt><dd>{}</dd>\n", or_none(&events)));
    let entries: Vec<String> = meta
        .kb_entries
        .iter()
        .map(|name| match kb.lookup(name) {
            Some(entry) => format!("<a href=\"{root}{}\">{}</a>", event_path(entry), esc(name)),
            None => esc(name),
        })
        .collect();
    body.push_str(&format!(
        "<dt>Knowledge base</dt><dd>{}</dd>\n</dl>\n",
        or_none(&entries)
    ));
    for (heading, text) in [
        ("What it detects", meta.doc.what),
        ("Why it matters", meta.doc.why),
        ("Example", meta.doc.example),
        ("Fix", meta.doc.fix),
    ] {
        body.push_str(&format!("<h2>{heading}</h2>\n{}", markdown_to_html(text)));
    }
    if !meta.doc.references.is_empty() {
        body.push_str("<h2>References</h2>\n<ul>\n");
        for reference in meta.doc.references {
            if reference.starts_with("https://") || reference.starts_with("http://") {
                body.push_str(&format!(
                    "<li><a href=\"{0}\">{0}</a></li>\n",
                    esc(reference)
                ));
            } else {
                body.push_str(&format!("<li>{}</li>\n", esc(reference)));
            }
        }
        body.push_str("</ul>\n");
    }
    page(
        &format!("{} {}", meta.code, meta.name),
        root,
        &format!("<article>{body}</article>"),
    )
}

fn index_page(kb: &Kb, metas: &[&RuleMeta]) -> String {
    let mut body = String::from(
        "<h1>Knowledge base and rules</h1>\n\
         <input id=\"q\" type=\"search\" placeholder=\"Search events, rules, ATT&amp;CK ids, risks, commands, any word of a page…\" autofocus>\n\
         <ol id=\"results\" class=\"results\"></ol>\n",
    );
    body.push_str(&format!("<h2>Events ({})</h2>\n<table class=\"list\">\n<tr><th>Event</th><th>Service</th><th>Severity</th><th>Risks</th><th>Rules</th></tr>\n", kb.entries().len()));
    for entry in kb.entries() {
        body.push_str(&format!(
            "<tr><td><a href=\"{}\">{}</a><div class=\"title\">{}</div></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            event_path(entry),
            esc(&entry.event),
            esc(&entry.title),
            esc(&entry.service),
            severity_badge(entry.severity.as_str()),
            esc(&entry.risks.join(", ")),
            entry
                .rules
                .iter()
                .map(|code| match metas.iter().find(|m| m.code == code) {
                    Some(meta) => format!("<a href=\"{}\">{}</a>", rule_path(meta), esc(code)),
                    None => esc(code),
                })
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    body.push_str("</table>\n");
    body.push_str(&format!("<h2>Rules ({})</h2>\n<table class=\"list\">\n<tr><th>Code</th><th>Name</th><th>Severity</th><th>Title</th></tr>\n", metas.len()));
    for meta in metas {
        body.push_str(&format!(
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            rule_path(meta),
            esc(meta.code),
            esc(meta.name),
            severity_badge(meta.severity.as_str()),
            esc(meta.title)
        ));
    }
    body.push_str("</table>\n<script src=\"search-index.js\"></script>\n<script src=\"search.js\"></script>\n");
    page("Knowledge base and rules", "", &body)
}

const STYLE: &str = r#":root { --fg: #1d232b; --muted: #5b6675; --line: #d9dee5; --accent: #0b5cad; --bg: #fff; --code: #f4f6f8; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { padding: .7rem 1.5rem; border-bottom: 1px solid var(--line); background: #f8fafc; }
header .home { font-weight: 700; color: var(--fg); text-decoration: none; }
header .sub { color: var(--muted); margin-left: .5rem; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem 1.5rem 4rem; }
a { color: var(--accent); }
h1 { margin: .6rem 0 .2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem; }
.lead { color: var(--muted); margin-top: 0; }
.slug { font-weight: 400; color: var(--muted); font-size: .7em; }
code { background: var(--code); padding: .1em .3em; border-radius: 3px; font-size: .92em; }
pre { background: var(--code); padding: .8rem 1rem; overflow-x: auto; border-radius: 6px; border: 1px solid var(--line); }
pre code { background: none; padding: 0; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 1rem 0 1.5rem; }
dl.meta dt { font-weight: 600; color: var(--muted); } dl.meta dd { margin: 0; }
.sev { display: inline-block; padding: 0 .45em; border-radius: 3px; font-size: .8em; font-weight: 600; text-transform: uppercase; color: #fff; }
.sev-critical { background: #7a0916; } .sev-high { background: #c62828; } .sev-medium { background: #b26a00; }
.sev-low { background: #1565c0; } .sev-info { background: #546e7a; }
table.list { border-collapse: collapse; width: 100%; font-size: .95em; }
table.list th, table.list td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
table.list .title { color: var(--muted); font-size: .9em; }
#q { width: 100%; font-size: 1.1rem; padding: .55rem .8rem; border: 1px solid var(--line); border-radius: 6px; margin: .8rem 0; }
.results { padding-left: 1.2rem; } .results li { margin: .2rem 0; } .results .kind { color: var(--muted); font-size: .85em; }
"#;

const SEARCH_JS: &str = r#"// Client-side search over window.TRAILGUARD_INDEX (search-index.js): every word typed must appear in an
// item's name, title, service, tags or page text. Items whose name starts with the first word rank first,
// then items matched on name, title, service or tags alone, then those matched through their page text.
(function () {
  function search(index, query) {
    var words = query.toLowerCase().split(/\s+/).filter(Boolean);
    if (!words.length) return [];
    var scored = [];
    index.forEach(function (item) {
      var head = (item.name + " " + item.title + " " + item.service + " " + item.tags).toLowerCase();
      var text = head + " " + (item.text || "");
      if (!words.every(function (w) { return text.indexOf(w) >= 0; })) return;
      var rank = item.name.toLowerCase().indexOf(words[0]) === 0 ? 0
        : words.every(function (w) { return head.indexOf(w) >= 0; }) ? 1 : 2;
      scored.push({ item: item, rank: rank });
    });
    scored.sort(function (a, b) { return a.rank - b.rank || a.item.name.localeCompare(b.item.name); });
    return scored.map(function (s) { return s.item; });
  }
  window.TRAILGUARD_SEARCH = search;

  var index = window.TRAILGUARD_INDEX || [];
  var input = typeof document !== "undefined" && document.getElementById("q");
  var list = typeof document !== "undefined" && document.getElementById("results");
  if (!input || !list) return;
  function render(query) {
    list.textContent = "";
    if (!query.trim()) return;
    var hits = search(index, query);
    hits.slice(0, 50).forEach(function (item) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = item.url;
      a.textContent = item.name;
      var meta = document.createElement("span");
      meta.className = "kind";
      meta.textContent = " " + item.kind + " · " + item.service + " · " + item.severity + " — " + item.title;
      li.appendChild(a);
      li.appendChild(meta);
      list.appendChild(li);
    });
    if (!hits.length) {
      var none = document.createElement("li");
      none.textContent = "No match.";
      list.appendChild(none);
    }
  }
  // `index.html?q=stoplogging` opens with that search, so searches can be linked.
  var match = /[?&]q=([^&]*)/.exec(window.location.search);
  if (match) input.value = decodeURIComponent(match[1].replace(/\+/g, " "));
  input.addEventListener("input", function () { render(input.value); });
  render(input.value);
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
