// The pieces the editor's browser tests stand on: the stand-in target
// (shared/tools/target.py) and the real daemon on free loopback ports,
// Debian's chromium through playwright-core, axe-core checks, screenshots,
// console watching, and a small runner that prints "N passed, N failed".
// SPDX-License-Identifier: MIT
import { spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(path.join(ROOT, "contrib/editor/package.json"));
const { chromium } = require("playwright-core");
const AXE_SOURCE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

export const SHARED = process.env.MOONWIRE_SHARED ?? path.join(ROOT, "..", "shared");
export const SHOTS = process.env.EDITOR_SCREENSHOTS ?? path.join(ROOT, "build/editor-screenshots");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

// Children to stop however the run ends, a signal or a crash included.
const children = new Set();
process.on("exit", () => children.forEach((c) => c.kill()));
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(1));

function track(proc) {
  children.add(proc);
  proc.on("exit", () => children.delete(proc));
  return proc;
}

/** Waits for `fn` to return a truthy value, polling. */
export async function until(fn, what, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`,
  );
}

export function check(cond, message) {
  if (!cond) throw new Error(message);
}

/** Deep equality by JSON text; the message shows where the texts part. */
export function checkEqual(actual, expected, what) {
  const a = typeof actual === "string" ? actual : JSON.stringify(actual, null, 1);
  const e = typeof expected === "string" ? expected : JSON.stringify(expected, null, 1);
  if (a === e) return;
  const al = a.split("\n");
  const el = e.split("\n");
  let i = 0;
  while (i < al.length && al[i] === el[i]) i++;
  const near = (lines) => lines.slice(Math.max(0, i - 3), i + 3).join("\n        ");
  throw new Error(
    `${what} differs at line ${i + 1}:\n  got:\n        ${near(al)}` +
      `\n  expected:\n        ${near(el)}`,
  );
}

/** Reads lines of a child's stdout until `pattern` matches one; resolves the match. */
function waitForLine(stream, pattern, what, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(
      () => reject(new Error(`no ${what} within ${timeoutMs} ms:\n${buf}`)),
      timeoutMs,
    );
    stream.on("data", (chunk) => {
      buf += chunk;
      const m = pattern.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
  });
}

/** shared/tools/target.py on a free port; `url`, `requests()`, `stop()`. */
export async function startTarget() {
  const proc = track(
    spawn("python3", [path.join(SHARED, "tools/target.py"), "--port", "0"], {
      stdio: ["ignore", "pipe", "inherit"],
    }),
  );
  const m = await waitForLine(proc.stdout, /^(\d+)\s*$/m, "target port");
  const url = `http://127.0.0.1:${m[1]}`;
  return {
    url,
    async requests() {
      return (await fetch(`${url}/_requests`)).json();
    },
    stop: () => proc.kill(),
  };
}

/** `moonwire serve` on a free loopback port with a temporary data dir. */
export async function startDaemon(binary) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mw-editor-test-"));
  const token = `editor-test-${Math.random().toString(36).slice(2)}`;
  const log = fs.openSync(path.join(dir, "daemon.log"), "w");
  const proc = track(
    spawn(binary, ["serve", "--listen", "127.0.0.1:0", "--data-dir", path.join(dir, "data")], {
      env: {
        ...process.env,
        MOONWIRE_ADMIN_TOKEN: token,
        MOONWIRE_LOG_LEVEL: "info",
        ASAN_OPTIONS: process.env.ASAN_OPTIONS ?? "detect_leaks=0",
      },
      stdio: ["ignore", log, log],
    }),
  );
  const readLog = () => fs.readFileSync(path.join(dir, "daemon.log"), "utf8");
  const port = await until(
    () => {
      if (proc.exitCode !== null) throw new Error(`moonwire serve exited:\n${readLog()}`);
      return /listening on 127\.0\.0\.1:(\d+)/.exec(readLog())?.[1];
    },
    "the daemon's port",
    20000,
  );
  const url = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${url}/healthz`)).ok, "/healthz");
  const api = async (method, p, body, auth = token) => {
    const res = await fetch(url + p, {
      method,
      headers: {
        Authorization: `Bearer ${auth}`,
        "Content-Type": "application/json",
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, text, json: text ? JSON.parse(text) : null };
  };
  return { url, token, dir, api, readLog, stop: () => proc.kill() };
}

/** Chromium with a fresh profile; pages watch the console. */
export async function startBrowser() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "mw-editor-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    acceptDownloads: true,
    viewport: { width: 1280, height: 800 },
  });
  return {
    context,
    async stop() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Console errors and page errors of `page`. `allow(urlPart)` lets errors
 * whose source URL holds urlPart pass while fn runs (an expected 401).
 */
export function watchConsole(page) {
  const errors = [];
  let allowed = [];
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const where = m.location()?.url ?? "";
    if (allowed.some((a) => where.includes(a))) return;
    errors.push(`${m.text()} (${where})`);
  });
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  return {
    errors,
    async allowing(urlParts, fn) {
      allowed = urlParts;
      try {
        return await fn();
      } finally {
        allowed = [];
      }
    },
    take() {
      return errors.splice(0, errors.length);
    },
  };
}

/** Runs axe-core on the page; throws on serious or critical violations. */
export async function checkAxe(page, screen) {
  // evaluate is not bound by the page's Content-Security-Policy
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(() =>
    window.axe.run(document, {
      resultTypes: ["violations"],
    }),
  );
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  if (bad.length) {
    const lines = bad.map(
      (v) =>
        `${v.impact} ${v.id}: ${v.help}\n    ` +
        v.nodes
          .slice(0, 4)
          .map((n) => n.target.join(" "))
          .join("\n    "),
    );
    throw new Error(`axe on ${screen}:\n  ${lines.join("\n  ")}`);
  }
  return result.violations.length;
}

export async function screenshot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/**
 * Named cases run in order, each building on the ones before it: after a
 * failure the rest are skipped. `after` runs after each case, pass or
 * fail; `onFail` gets the name of a case that failed (for a screenshot).
 */
export class Suite {
  constructor() {
    this.cases = [];
    this.passed = 0;
    this.failed = 0;
    this.skipped = 0;
  }

  case(name, fn) {
    this.cases.push({ name, fn });
  }

  async run(prefix, after, onFail) {
    for (const c of this.cases) {
      if (this.failed) {
        this.skipped++;
        console.log(`skip  ${prefix}${c.name}`);
        continue;
      }
      const started = Date.now();
      let error = null;
      try {
        await c.fn();
      } catch (e) {
        error = e;
      }
      try {
        await after?.();
      } catch (e) {
        error = error ?? e;
      }
      if (error) {
        this.failed++;
        await onFail?.(c.name).catch(() => {});
        const text = String(error.stack ?? error)
          .split("\n")
          .join("\n      ");
        console.log(`FAIL  ${prefix}${c.name}\n      ${text}`);
      } else {
        this.passed++;
        console.log(`ok    ${prefix}${c.name} (${Date.now() - started} ms)`);
      }
    }
  }
}
