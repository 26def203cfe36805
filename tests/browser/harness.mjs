// What the browser tests stand on: a store filled by the real `trailguard scan`, users made by
// `trailguard web user add`, a real `trailguard web` process on 127.0.0.1, Debian's Chromium driven by
// playwright-core, a watcher that records what a page must never do, and a runner of a dozen lines.

import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { hostileRecords, recentActivity } from "./records.mjs";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const USERS = {
  admin: { name: "alice", password: "browser-admin-password-1" },
  viewer: { name: "victor", password: "browser-viewer-password-1" },
};

/// Fails the current case with `message` unless `condition` holds.
export function check(condition, message) {
  if (!condition) throw new Error(message);
}

/// Runs `command` to completion; a failure throws with its stderr.
function run(bin, args, input) {
  const result = spawnSync(bin, args, { input, encoding: "utf8", cwd: REPO });
  if (result.status !== 0) {
    throw new Error(`${path.basename(bin)} ${args.join(" ")} exited ${result.status}: ${result.stderr || result.error}`);
  }
  return result;
}

/// A SQLite store in `dir`: the shared real CloudTrail logs and our hand-written records, scanned by the
/// real binary; an admin and a viewer.
export function makeStore(bin, dir, { hostile }) {
  const now = new Date();
  const records = [...recentActivity(now), ...(hostile ? hostileRecords(now) : [])];
  const log = path.join(dir, "handwritten.json");
  writeFileSync(log, JSON.stringify({ Records: records }, null, 1));
  const store = path.join(dir, "tg.db");
  const shared = path.join(REPO, "..", "shared", "data", "cloudtrail");
  const scan = run(bin, ["scan", shared, log, "--store", store, "--format", "json", "--output", path.join(dir, "findings.jsonl"), "--fail-on", "never"]);
  const stored = /(\d+) new findings/.exec(scan.stderr);
  check(stored && Number(stored[1]) > records.length, `scan stored too few findings: ${scan.stderr}`);
  for (const [role, user] of Object.entries(USERS)) {
    run(bin, ["web", "user", "add", user.name, "--role", role, "--password-stdin", "--store", store], `${user.password}\n`);
  }
  return store;
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/// `trailguard web` on a free loopback port; resolves once it answers. `stop()` ends it.
export async function startServer(bin, store) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = spawn(bin, ["web", "--store", store, "--listen", `127.0.0.1:${port}`], {
      cwd: REPO,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r(undefined), 100))]);
      if (code !== undefined) break;
      try {
        const answer = await fetch(`${base}/login`);
        if (answer.ok) {
          const stop = async () => {
            child.kill("SIGTERM");
            await exited;
          };
          return { base, stop, kill: () => child.kill("SIGKILL"), stderr: () => stderr };
        }
      } catch {
        // Not listening yet.
      }
    }
    child.kill("SIGTERM");
    await exited;
    if (!/cannot listen/.test(stderr)) throw new Error(`trailguard web did not start: ${stderr}`);
    // The port was taken between our probe and its bind: try another.
  }
  throw new Error("trailguard web: no free port after 5 tries");
}

/// Debian's Chromium, headless, with the flags this machine's closed network needs.
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.TRAILGUARD_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/// Records what no page may do: open a dialog, log a console error (a CSP violation is one), throw,
/// or request anything from another origin (the dashboard must work air-gapped).
export class Watcher {
  constructor(base) {
    this.base = base;
    this.problems = [];
    this.csp = [];
    // Console errors a case expects (a 403 page it asked for): regular expressions, consumed on match.
    this.expected = [];
    // Every answer of 400 or more, to name the resource behind a console error.
    this.failed = [];
  }

  attach(page) {
    page.on("dialog", async (dialog) => {
      this.problems.push(`dialog (${dialog.type()}: ${dialog.message()}) on ${page.url()}`);
      await dialog.dismiss().catch(() => {});
    });
    page.on("console", (message) => {
      const text = message.text();
      if (/Content Security Policy/i.test(text)) {
        this.csp.push(`${page.url()}: ${text}`);
        return;
      }
      if (message.type() !== "error") return;
      const allowed = this.expected.findIndex((re) => re.test(text));
      if (allowed >= 0) {
        this.expected.splice(allowed, 1);
        return;
      }
      this.problems.push(`console error on ${page.url()}: ${text}`);
    });
    page.on("response", (response) => {
      if (response.status() >= 400) this.failed.push(`${response.status()} ${response.url()}`);
    });
    page.on("pageerror", (error) => this.problems.push(`script error on ${page.url()}: ${error.message}`));
    page.on("request", (request) => {
      const url = request.url();
      if (!url.startsWith(`${this.base}/`) && !url.startsWith("data:") && url !== "about:blank") {
        this.problems.push(`request to another origin from ${page.url()}: ${url}`);
      }
    });
    return page;
  }
}

/// A page of the dashboard must show no trace of the hostile records having run or become markup.
export async function assertNothingInjected(page, markers) {
  const found = await page.evaluate((names) => {
    const set = names.filter((name) => window[name] !== undefined);
    const elements = [
      ...document.querySelectorAll("#pwned-img, #pwned-svg, #pwned-link, img, svg[onload], [onerror], [onload], a[href^='javascript:' i], iframe, object, embed"),
    ].filter((el) => !(el.tagName.toLowerCase() === "svg" && el.classList.contains("chart")));
    const scripts = [...document.scripts].filter((s) => s.getAttribute("src") !== "/static/copy.js");
    return {
      set,
      elements: elements.map((el) => el.outerHTML.slice(0, 120)),
      scripts: scripts.map((s) => s.outerHTML.slice(0, 120)),
    };
  }, markers);
  check(found.set.length === 0, `${page.url()}: markers set by injected code: ${found.set.join(", ")}`);
  check(found.elements.length === 0, `${page.url()}: injected elements: ${found.elements.join(" | ")}`);
  check(found.scripts.length === 0, `${page.url()}: scripts other than /static/copy.js: ${found.scripts.join(" | ")}`);
}

/// Long unbroken record values (ARNs, user agents) must wrap, not widen the page past the window.
export async function assertFitsWidth(page) {
  const [content, window] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  check(content <= window, `${page.url()}: the page is ${content} px wide in a ${window} px window`);
}

/// Logs `page` in through the login form.
export async function logIn(page, base, user) {
  await page.goto(`${base}/login`);
  await page.fill("input[name=name]", user.name);
  await page.fill("input[name=password]", user.password);
  await Promise.all([page.waitForURL((url) => !url.pathname.startsWith("/login")), page.click("form.login button[type=submit]")]);
}

/// Saves a full-page screenshot under `dir`.
export async function shoot(page, dir, name) {
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

/// The runner: cases in order (later ones build on earlier ones), each timed; a failing case is
/// reported and the rest still run. Resolves to the number of failures.
export async function runCases(cases, only) {
  let failures = 0;
  for (const [name, body] of cases) {
    if (only && !name.includes(only)) continue;
    const started = Date.now();
    try {
      await body();
      console.log(`ok   ${name} (${Date.now() - started} ms)`);
    } catch (error) {
      failures += 1;
      console.log(`FAIL ${name} (${Date.now() - started} ms)\n     ${String(error.stack || error).split("\n").slice(0, 4).join("\n     ")}`);
    }
  }
  return failures;
}
