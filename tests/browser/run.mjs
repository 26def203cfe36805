// The dashboard in a real browser: `trailguard web` over a store that `trailguard scan` filled from the
// shared real CloudTrail logs plus hand-written records (records.mjs), driven in Debian's headless
// Chromium by playwright-core. Every page gets a screenshot under target/browser-screenshots/ and a
// check that it shows its own content; no page may run injected code, open a dialog, log a console
// error or CSP violation, or fetch from another origin.
//
//   bash scripts/setup-browser.sh && nice cargo build --workspace --bin trailguard
//   node tests/browser/run.mjs                        # the tests (exit 1 when one fails)
//   node tests/browser/run.mjs --only mute            # only the cases whose name holds "mute"
//   node tests/browser/run.mjs --readme-shots docs/   # the README's two screenshots, nothing else
//
// Options: --bin PATH (default $TRAILGUARD_BIN or target/debug/trailguard), --shots DIR (default
// target/browser-screenshots). Cases run in order and build on each other (log in, then filter, then
// open, then mute), so --only is for debugging a failure, not for CI.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import {
  REPO, USERS, Watcher, assertFitsWidth, assertNothingInjected, check, launchBrowser, logIn, makeStore, runCases, shoot, startServer,
} from "./harness.mjs";
import { CLEAN_PRINCIPAL, HOSTILE, HOSTILE_PRINCIPAL, MARKERS } from "./records.mjs";

function parseArgs(argv) {
  const options = {
    bin: process.env.TRAILGUARD_BIN || path.join(REPO, "target", "debug", "trailguard"),
    shots: path.join(REPO, "target", "browser-screenshots"),
    readmeShots: null,
    only: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    switch (argv[i]) {
      case "--bin": options.bin = path.resolve(value()); break;
      case "--shots": options.shots = path.resolve(value()); break;
      case "--readme-shots": options.readmeShots = path.resolve(value()); break;
      case "--only": options.only = value(); break;
      default: throw new Error(`unknown argument ${argv[i]} (see the top of tests/browser/run.mjs)`);
    }
  }
  return options;
}

/// YYYY-MM-DD, `days` from today.
function dateIn(days) {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

/// The id of every finding linked from the rows of a findings list page.
async function listedIds(page) {
  return page.$$eval("table.findings tbody a[href^='/findings/']", (links) =>
    links.map((a) => decodeURIComponent(a.getAttribute("href").slice("/findings/".length))));
}

/// The findings table's rows as objects keyed by column heading.
async function tableRows(page) {
  return page.$$eval("table.findings", ([table]) => {
    const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim().toLowerCase());
    return [...table.querySelectorAll("tbody tr")].map((tr) => {
      const row = {};
      [...tr.cells].forEach((td, i) => (row[heads[i]] = td.textContent.trim()));
      row.href = tr.querySelector("a[href^='/findings/']")?.getAttribute("href") ?? null;
      return row;
    });
  });
}

/// Clicks a form's submit button; resolves to the POST's response once the page it leads to shows
/// `then` (a selector only that page has: the old page may still be current when the POST answers).
async function submit(page, button, pathEnd, then) {
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname.endsWith(pathEnd)),
    page.click(button),
  ]);
  await page.waitForSelector(then);
  return answer;
}

async function statusOf(page, base, id) {
  const answer = await page.request.get(`${base}/api/v1/findings/${encodeURIComponent(id)}`);
  check(answer.ok(), `GET /api/v1/findings/${id}: ${answer.status()}`);
  return (await answer.json()).status;
}

async function tests(options, base, browser) {
  const watcher = new Watcher(base);
  const shots = options.shots;
  rmSync(shots, { recursive: true, force: true });
  const admin = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await admin.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  const page = watcher.attach(await admin.newPage());
  const s = {}; // What earlier cases found, for later ones.

  const cases = [
    ["login: a visitor is sent to the login page, a wrong password is refused, the admin gets in", async () => {
      await page.goto(`${base}/findings?severity=critical`);
      check(new URL(page.url()).pathname === "/login", `not sent to /login but to ${page.url()}`);
      check((await page.textContent("h1")) === "Log in", "the login page has no 'Log in' heading");
      check(await page.isVisible("form.login input[type=password]"), "the login page has no password field");
      await shoot(page, shots, "login");
      await page.fill("input[name=name]", USERS.admin.name);
      await page.fill("input[name=password]", "not the password at all");
      watcher.expected.push(/status of 401/);
      await submit(page, "form.login button[type=submit]", "/login", "p.error");
      check(new URL(page.url()).pathname === "/login", `a wrong password got to ${page.url()}`);
      check(await page.isVisible("p.error"), "a wrong password shows no error");
      await logIn(page, base, USERS.admin);
      check(new URL(page.url()).pathname === "/", `after login: ${page.url()}`);
      check((await page.textContent("header .who")).includes(`${USERS.admin.name} (admin)`), "the header does not name the admin");
      const cookies = await admin.cookies(base);
      const session = cookies.find((c) => c.name === "tg_session");
      check(session && session.httpOnly && session.sameSite === "Strict", `session cookie: ${JSON.stringify(session)}`);
    }],

    ["overview: its chart, top lists, newest critical findings and runs", async () => {
      await page.goto(`${base}/`);
      check((await page.textContent("h1")) === "Overview", "no 'Overview' heading");
      const bars = await page.locator("svg.chart rect").count();
      check(bars > 0, "the 30-day chart draws no bar (the hand-written records are dated in the last days)");
      const critical = page.locator("section:has(h2:text('Newest open critical findings')) a[href^='/findings/']");
      check((await critical.count()) > 0, "no newest critical finding listed");
      check((await page.locator("section:has(h2:text('Top rules')) a").count()) > 0, "no top rule listed");
      check((await page.locator("section:has(h2:text('Latest runs')) li").first().textContent()).includes("scan"), "the latest run is not the scan");
      await assertNothingInjected(page, MARKERS);
      await assertFitsWidth(page);
      await shoot(page, shots, "overview");
    }],

    ["findings: filter to critical", async () => {
      await page.goto(`${base}/findings`);
      const all = Number(/(\d+) findings/.exec(await page.textContent("p.summary"))[1]);
      await page.selectOption("select[name=severity]", "critical");
      await Promise.all([page.waitForURL(/severity=critical/), page.click("form.filters button[type=submit]")]);
      const total = Number(/(\d+) findings/.exec(await page.textContent("p.summary"))[1]);
      const rows = await tableRows(page);
      check(rows.length > 0 && rows.length === Math.min(total, 50), `${rows.length} rows for ${total} critical findings`);
      check(total < all, `critical (${total}) is not fewer than all (${all})`);
      const other = rows.filter((r) => r.severity !== "critical");
      check(other.length === 0, `rows not critical: ${JSON.stringify(other.slice(0, 2))}`);
      s.policyRow = rows.find((r) => r.event === "CreatePolicyVersion" && r.principal === CLEAN_PRINCIPAL);
      check(s.policyRow, `no critical CreatePolicyVersion by ${CLEAN_PRINCIPAL} in ${JSON.stringify(rows.map((r) => [r.event, r.principal]))}`);
      s.otherCritical = rows.filter((r) => r.href !== s.policyRow.href && r.status === "open" && r.principal !== HOSTILE_PRINCIPAL);
      await assertNothingInjected(page, MARKERS);
      await assertFitsWidth(page);
      await shoot(page, shots, "findings");
    }],

    ["the CreatePolicyVersion finding shows who, what and its fix as AWS CLI and boto3", async () => {
      await Promise.all([page.waitForURL(/\/findings\/[^/?]+$/), page.click(`table.findings a[href='${s.policyRow.href}']`)]);
      s.policyId = decodeURIComponent(new URL(page.url()).pathname.slice("/findings/".length));
      check((await page.textContent("h1")).includes("critical"), "the heading does not carry the severity");
      check((await page.textContent("p.status strong")) === "open", "the finding is not open");
      check((await page.textContent("dl.facts")).includes(CLEAN_PRINCIPAL), "the facts do not name the principal");
      check((await page.textContent("dl.facts")).includes("CreatePolicyVersion"), "the facts do not name the event");
      const cli = await page.textContent("#fix-cli");
      check(/^aws iam /m.test(cli) && cli.includes("ci-deploy"), `the AWS CLI fix: ${cli}`);
      const python = await page.textContent("#fix-python");
      check(python.includes("boto3") && python.includes("ci-deploy"), `the boto3 fix: ${python}`);
      check(await page.isVisible("form[action$='/mute']"), "an admin sees no mute form");
      await assertFitsWidth(page);
      await shoot(page, shots, "finding");
    }],

    ["the copy buttons put the fix on the clipboard", async () => {
      for (const id of ["fix-cli", "fix-python"]) {
        const button = page.locator(`button.copy[data-copy='${id}']`);
        await button.click();
        await page.waitForFunction((target) => document.querySelector(`button.copy[data-copy='${target}']`).textContent === "Copied", id);
        const copied = await page.evaluate(() => navigator.clipboard.readText());
        const shown = await page.textContent(`#${id}`);
        check(copied === shown && copied.length > 0, `clipboard after copying #${id}: ${JSON.stringify(copied.slice(0, 80))}`);
      }
    }],

    ["mute with a reason and an expiry: it leaves the open list, shows as muted and is logged", async () => {
      check((await statusOf(page, base, s.policyId)) === "open", "the finding is not open before the mute");
      const reason = "accepted: CI role rotation in progress";
      const expires = dateIn(30);
      await page.fill("form[action$='/mute'] input[name=reason]", reason);
      await page.fill("form[action$='/mute'] input[name=expires]", expires);
      const posted = await submit(page, "form[action$='/mute'] button[type=submit]", "/mute", "p.status-muted");
      check(posted.status() === 303, `the mute answered ${posted.status()}`);
      check((await page.textContent("p.status strong")) === "muted", `status after the mute: ${await page.textContent("p.status")}`);
      await page.goto(`${base}/findings?status=open&severity=critical`);
      check(!(await listedIds(page)).includes(s.policyId), "the muted finding is still in the open list");
      check((await listedIds(page)).length > 0, "the open critical list is empty (other findings should remain)");
      await page.goto(`${base}/findings?status=muted`);
      const muted = await tableRows(page);
      const row = muted.find((r) => r.href === s.policyRow.href);
      check(row && row.status === "muted", "the finding is not listed as muted");
      await page.goto(`${base}/runs`);
      check((await page.textContent("h1")) === "Runs and audits", "no 'Runs and audits' heading");
      const log = await page.$$eval("h2:text('Mutes and resolutions done here') + table tbody tr", (trs) => trs.map((tr) => tr.textContent));
      check(log.some((line) => line.includes(USERS.admin.name) && line.includes("mute") && line.includes(reason) && line.includes(expires)),
        `the action log does not show the mute: ${JSON.stringify(log)}`);
      const runs = await page.$$eval("table:first-of-type tbody tr td:nth-child(2)", (tds) => tds.map((td) => td.textContent));
      check(runs.includes("scan"), `the runs table has no scan: ${JSON.stringify(runs)}`);
      await assertFitsWidth(page);
      await shoot(page, shots, "runs");
    }],

    ["a viewer sees no triage form and a forged mute is refused with 403", async () => {
      check(s.otherCritical.length > 0, "no other open critical finding to try");
      const target = decodeURIComponent(s.otherCritical[0].href.slice("/findings/".length));
      const viewerContext = await browser.newContext();
      const viewer = watcher.attach(await viewerContext.newPage());
      await logIn(viewer, base, USERS.viewer);
      await viewer.goto(`${base}/findings/${encodeURIComponent(target)}`);
      check((await viewer.textContent("header .who")).includes(`${USERS.viewer.name} (viewer)`), "not logged in as the viewer");
      check(await viewer.isVisible("#fix-cli"), "the viewer does not see the fix");
      check((await viewer.locator("form[action$='/mute'], form[action$='/resolve']").count()) === 0, "a viewer sees a triage form");
      // The viewer's own valid CSRF token (from the logout form): only the role can refuse this.
      const csrf = await viewer.getAttribute("header form input[name=csrf]", "value");
      check(csrf && csrf.length >= 32, "no CSRF token on the viewer's page");
      const forged = await viewer.request.post(`${base}/findings/${encodeURIComponent(target)}/mute`, {
        form: { csrf, reason: "viewer says so", expires: dateIn(10) },
        maxRedirects: 0,
      });
      check(forged.status() === 403, `a viewer's forged mute answered ${forged.status()}`);
      check((await forged.text()).includes("viewers cannot mute"), "the 403 does not say why");
      check((await statusOf(viewer, base, target)) === "open", "the viewer's forged mute changed the finding");
      await viewerContext.close();
    }],

    ["a form without its CSRF token is refused and changes nothing", async () => {
      const target = decodeURIComponent(s.otherCritical[0].href.slice("/findings/".length));
      await page.goto(`${base}/findings/${encodeURIComponent(target)}`);
      await page.evaluate(() => document.querySelector("form[action$='/resolve'] input[name=csrf]").remove());
      await page.fill("form[action$='/resolve'] input[name=note]", "fixed, trust me");
      watcher.expected.push(/status of 403/);
      const answer = await submit(page, "form[action$='/resolve'] button[type=submit]", "/resolve", "h1:text('403')");
      check(answer.status() === 403, `the token-less form answered ${answer.status()}`);
      check((await page.textContent("body")).includes("CSRF token is missing"), "the refusal does not name the CSRF token");
      check((await statusOf(page, base, target)) === "open", "the token-less form resolved the finding");
      // A well-formed token from another session is refused the same way.
      const forged = await page.request.post(`${base}/findings/${encodeURIComponent(target)}/resolve`, {
        form: { csrf: "0".repeat(64), note: "forged" },
        maxRedirects: 0,
      });
      check(forged.status() === 403, `a wrong token answered ${forged.status()}`);
    }],

    ["hostile record values render as text and run nothing, on every page that shows them", async () => {
      await page.goto(`${base}/findings?principal=${encodeURIComponent(HOSTILE_PRINCIPAL)}&event_name=CreatePolicyVersion&rule=CT001`);
      const rows = await tableRows(page);
      check(rows.length === 1, `expected the one hostile CreatePolicyVersion finding, got ${rows.length}`);
      check(rows[0].principal === HOSTILE_PRINCIPAL, `the principal cell reads ${rows[0].principal}`);
      await assertNothingInjected(page, MARKERS);
      await page.click(`table.findings a[href='${rows[0].href}']`);
      await page.waitForLoadState("load");
      const text = await page.textContent("main");
      for (const piece of [HOSTILE.script, HOSTILE.jsUrl, HOSTILE.link, "ops" + HOSTILE.img]) {
        check(text.includes(piece), `the finding page does not show ${JSON.stringify(piece)} as text`);
      }
      check((await page.textContent("pre.raw")).includes("__pwned_svg"), "the raw finding does not carry the hostile document");
      await assertNothingInjected(page, MARKERS);
      await assertFitsWidth(page);
      await shoot(page, shots, "finding-hostile");
      // The principal's page: the hostile ARN is a query value of our own link, never an href of its own.
      const principalLink = page.locator("dl.facts a[href^='/principal?arn=']");
      const href = await principalLink.getAttribute("href");
      check(new URL(href, base).searchParams.get("arn") === HOSTILE_PRINCIPAL && !/[<>"' ]/.test(href), `the principal link is ${href}`);
      await Promise.all([page.waitForURL(/\/principal\?/), principalLink.click()]);
      check((await page.inputValue("input[name=principal]")) === HOSTILE_PRINCIPAL, "the principal page is not filtered to the ARN");
      const principalRows = await tableRows(page);
      check(principalRows.length >= 3, `the hostile principal has ${principalRows.length} findings, expected at least 3`);
      check(principalRows.every((r) => r.principal === HOSTILE_PRINCIPAL), "the principal page lists other principals");
      await assertNothingInjected(page, MARKERS);
      await assertFitsWidth(page);
      await shoot(page, shots, "principal");
      for (const where of ["/", "/findings", "/findings?sort=newest", "/runs"]) {
        await page.goto(`${base}${where}`);
        await assertNothingInjected(page, MARKERS);
      }
      await page.goto(`${base}/findings?sort=newest`);
      check((await page.textContent("table.findings")).includes(HOSTILE.script), "the newest findings do not show the hostile user name as text");
    }],

    ["rules and a knowledge-base entry", async () => {
      await page.goto(`${base}/rules`);
      check((await page.textContent("h1")) === "Rules", "no 'Rules' heading");
      const rules = await page.locator("tbody tr[id^='CT']").count();
      check(rules >= 40, `only ${rules} rules listed`);
      await shoot(page, shots, "rules");
      const kb = page.locator("tr#CT001 a[href^='/kb/']").first();
      const name = await kb.textContent();
      await Promise.all([page.waitForURL(/\/kb\//), kb.click()]);
      check((await page.textContent("h1")) === name, `the entry's heading is not ${name}`);
      const body = await page.textContent("div.kb");
      check(body.length > 200 && body.includes(name), `the entry's text is short or does not name ${name}`);
      await shoot(page, shots, "kb");
    }],

    ["the CSP is enforced and the watcher sees violations (control)", async () => {
      await page.goto(`${base}/`);
      const before = watcher.csp.length;
      const ran = await page.evaluate(async () => {
        const probe = document.createElement("script");
        probe.textContent = "window.__csp_probe = 1";
        document.body.appendChild(probe);
        await new Promise((r) => setTimeout(r, 200));
        return window.__csp_probe;
      });
      check(ran === undefined, "an inline script ran: the CSP does not forbid inline script");
      check(watcher.csp.length > before, "the watcher saw no CSP message for the blocked inline script");
      watcher.csp.splice(before);
    }],

    ["no page reported a CSP violation, console error, dialog or foreign request; every page was shot", async () => {
      check(watcher.csp.length === 0, `CSP violations:\n${watcher.csp.join("\n")}`);
      check(watcher.problems.length === 0, `problems:\n${watcher.problems.join("\n")}\nanswers of 400 or more:\n${watcher.failed.join("\n")}`);
      for (const name of ["login", "overview", "findings", "finding", "finding-hostile", "principal", "rules", "kb", "runs"]) {
        const file = path.join(shots, `${name}.png`);
        check(existsSync(file) && statSync(file).size > 5000, `no screenshot ${file}`);
      }
    }],
  ];
  const failures = await runCases(cases, options.only);
  await admin.close();
  return failures;
}

/// The README's two screenshots, from a store without the hostile records, at a fixed size.
async function readmeShots(dir, base, browser) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 860 } });
  const page = await context.newPage();
  await logIn(page, base, USERS.admin);
  await page.goto(`${base}/`);
  await page.screenshot({ path: path.join(dir, "web-overview.png") });
  await page.goto(`${base}/findings?severity=critical&event_name=CreatePolicyVersion`);
  await page.click("table.findings a[href^='/findings/']");
  await page.waitForLoadState("load");
  // Tall enough to show the fix as AWS CLI and boto3 below the facts and evidence.
  await page.setViewportSize({ width: 1200, height: 1300 });
  await page.screenshot({ path: path.join(dir, "web-finding.png") });
  await context.close();
  const shots = ["web-overview.png", "web-finding.png"].map((f) => path.join(dir, f));
  // Palette-reduce when pngquant is installed (apt-get install pngquant): a tenth of the size.
  const quant = spawnSync("pngquant", ["--force", "--skip-if-larger", "--strip", "--ext", ".png", "64", ...shots]);
  if (quant.error) console.log("pngquant not found: the screenshots are saved unreduced");
  for (const file of shots) console.log(`${path.relative(process.cwd(), file)}: ${statSync(file).size} bytes`);
}

/// The whole run's limit: a hung browser or server fails the suite instead of stalling CI.
const DEADLINE_MS = 180_000;

async function main() {
  const options = parseArgs(process.argv.slice(2));
  check(existsSync(options.bin), `no trailguard binary at ${options.bin} (nice cargo build --workspace --bin trailguard)`);
  const dir = mkdtempSync(path.join(os.tmpdir(), "trailguard-browser-"));
  let server;
  let browser;
  const watchdog = setTimeout(() => {
    console.error(`browser tests: not done after ${DEADLINE_MS / 1000} s, giving up`);
    server?.kill();
    rmSync(dir, { recursive: true, force: true });
    process.exit(1);
  }, DEADLINE_MS);
  watchdog.unref();
  try {
    const started = Date.now();
    const store = makeStore(options.bin, dir, { hostile: !options.readmeShots });
    server = await startServer(options.bin, store);
    browser = await launchBrowser();
    console.log(`browser tests: ${browser.version()} against ${server.base} (set up in ${Date.now() - started} ms)`);
    if (options.readmeShots) {
      await readmeShots(options.readmeShots, server.base, browser);
      return 0;
    }
    const failures = await tests(options, server.base, browser);
    console.log(failures === 0 ? `browser tests: all passed in ${Date.now() - started} ms; screenshots in ${options.shots}`
      : `browser tests: ${failures} failed`);
    return failures === 0 ? 0 : 1;
  } finally {
    await browser?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`browser tests: ${error.message}`);
    process.exit(1);
  },
);
