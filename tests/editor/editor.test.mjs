// Browser tests of the web editor against the real daemon and target:
// every case is a step a user takes, run in order at 1280x800 and again
// at 1920x1080, with axe-core on each screen and no console errors.
// Usage: node editor.test.mjs path/to/moonwire
// SPDX-License-Identifier: MIT
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import {
  check,
  checkAxe,
  checkEqual,
  ROOT,
  screenshot,
  SHARED,
  SHOTS,
  startBrowser,
  startDaemon,
  startTarget,
  Suite,
  until,
  watchConsole,
} from "./harness.mjs";
import {
  codeText,
  createIntegration,
  dropNode,
  fieldId,
  fill,
  openDesigner,
  renameSelected,
  selectNode,
  signIn,
  tab,
  wire,
} from "./pages.mjs";

const run = promisify(execFile);
const EXAMPLE = JSON.parse(
  fs.readFileSync(path.join(ROOT, "contrib/examples/oauth-create-update.json"), "utf8"),
);
const SHARE = path.join(SHARED, "data/payloads/bigpanda-incident-new.json");
// Lines a daemon built with sanitizers writes when something went wrong.
const SANITIZER_SIGNS = ["ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"];

const VIEWPORTS = (process.env.EDITOR_VIEWPORTS ?? "1280x800,1920x1080")
  .split(",")
  .map((v) => v.split("x").map(Number))
  .map(([width, height]) => ({ width, height }));

// Where the test drops each node, in pane pixels after zooming out: two
// rows along the flow, so that every handle stays clear of other nodes.
const GRID = {
  auth: [10, 10],
  route: [170, 10],
  build_create: [330, 10],
  create: [490, 10],
  save: [170, 170],
  build_update: [330, 170],
  update: [490, 170],
};

/** A config with the node type's defaults filled in, for comparing meaning. */
function withDefaults(types, node) {
  const out = {};
  for (const f of types.find((t) => t.type === node.type).schema) {
    const v = node.config?.[f.name] ?? f.default;
    if (v !== undefined && !f.secret) out[f.name] = v;
  }
  return out;
}

/** The value with object keys sorted, as order inside objects means nothing. */
function sorted(v) {
  if (Array.isArray(v)) return v.map(sorted);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sorted(v[k])]),
    );
  }
  return v;
}

function meaning(types, doc) {
  return {
    nodes: doc.nodes.map((n) => ({
      id: n.id,
      type: n.type,
      label: n.label,
      config: sorted(withDefaults(types, n)),
    })),
    connections: [...doc.connections].map((c) => `${c.from}.${c.port}->${c.to}`).sort(),
  };
}

async function fillConfig(page, node) {
  for (const [field, value] of Object.entries(node.config)) {
    if (field === "routes") {
      for (const [i, r] of value.entries()) {
        await page.getByRole("button", { name: "Add route" }).click();
        await fill(page, node.id, ["routes", i, "port"], r.port);
        await fill(page, node.id, ["routes", i, "value"], JSON.stringify(r.value));
      }
    } else if (field === "headers") {
      for (const [i, [name, v]] of Object.entries(value).entries()) {
        await page.getByRole("button", { name: "Add header" }).click();
        await page.getByLabel(`Headers: name of header ${i + 1}`).fill(name);
        await page.locator(`#${fieldId(node.id, "headers")}-v${i}`).fill(v);
      }
    } else if (typeof value === "boolean") {
      const box = page.locator(`#${fieldId(node.id, field)}`);
      if ((await box.isChecked()) !== value) await box.click();
    } else if (field === "method") {
      await page.locator(`#${fieldId(node.id, field)}`).selectOption(value);
    } else {
      await fill(page, node.id, [field], value);
    }
  }
}

function cases(suite, env, vp) {
  const { daemon, target, page, console: con } = env;
  const name = `Tickets ${vp.width}`;
  const state = {};
  const shot = (n) => screenshot(page, `${vp.width}x${vp.height}-${n}`);

  suite.case("login: a wrong token is refused, the admin token opens the list", async () => {
    await page.goto(daemon.url + "/");
    await checkAxe(page, "login");
    await shot("01-login");
    await con.allowing(["/api/v1/integrations"], async () => {
      await page.getByLabel("Admin token").fill("not-the-token");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByText("This token was refused").waitFor();
    });
    await page.getByLabel("Admin token").fill(daemon.token);
    await page.getByLabel("Admin token").press("Enter");
    await page.getByRole("heading", { name: "Integrations", level: 1 }).waitFor();
    await checkAxe(page, "integrations list");
  });

  suite.case(
    "integrations: create shows the app key once, with copy and the share URL",
    async () => {
      state.key = await createIntegration(page, name);
      const url = await page.getByLabel("Share URL").inputValue();
      checkEqual(url, `${daemon.url}/api/v1/shares`, "share URL");
      await page.getByRole("button", { name: "Copy App key" }).click();
      await page.getByText("Copied.").waitFor();
      await checkAxe(page, "app key dialog");
      await shot("02-app-key");
      await page.getByRole("button", { name: "Close", exact: true }).first().click();
      await page.getByRole("link", { name }).waitFor();
      check(!(await page.getByText(state.key).count()), "the app key is still shown after closing");
      await shot("03-integrations");
    },
  );

  suite.case("designer: build the reference example by dragging the five node types", async () => {
    await openDesigner(page, name);
    await checkAxe(page, "empty designer");
    for (let i = 0; i < 3; i++) await page.locator(".react-flow__controls-zoomout").click();
    for (const node of EXAMPLE.nodes) {
      const [x, y] = GRID[node.id];
      const id = await dropNode(page, node.type, x, y);
      await renameSelected(page, id, node.id);
      if (node.id === "build_create") {
        const tpl = page.locator(`#${fieldId(node.id, "template")}`);
        check(
          (await tpl.getAttribute("aria-invalid")) === "true",
          "an empty template is not marked",
        );
        await page
          .locator(`.react-flow__node[data-id="build_create"] .wf-node.has-problems`)
          .waitFor();
        await checkAxe(page, "node form with problems");
        await shot("04-node-form-problems");
      }
      await fill(page, node.id, ["$label"], node.label);
      await fillConfig(page, node);
    }
    for (const c of EXAMPLE.connections) await wire(page, c.from, c.port, c.to);
    await page.getByRole("button", { name: "Auto layout" }).click();
    await page.getByRole("heading", { name: "No problems" }).waitFor();
    await shot("05-built");
  });

  suite.case(
    "forms: a template field suggests variables and the parameters panel inserts one",
    async () => {
      await selectNode(page, "build_update");
      const tpl = page.locator(`#${fieldId("build_update", "template")}`);
      const original = await tpl.inputValue();
      await tpl.fill("");
      await tpl.pressSequentially("{{metadata.ev");
      await page.getByRole("option", { name: /metadata\.event_type/ }).waitFor();
      await checkAxe(page, "template suggestions");
      await shot("06-suggestions");
      await tpl.press("Enter");
      checkEqual(await tpl.inputValue(), "{{metadata.event_type}}", "completed template");
      await tpl.press("End");
      await page.getByRole("button", { name: "metadata.incident_id", exact: true }).click();
      checkEqual(
        await tpl.inputValue(),
        "{{metadata.event_type}}{{metadata.incident_id}}",
        "template after a click in the parameters panel",
      );
      await until(
        () => tpl.evaluate((el) => document.activeElement === el),
        "the focus back in the template after the insert",
      );
      await tpl.fill(original);
    },
  );

  suite.case("save: the stored workflow means the same as the reference example", async () => {
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByText("Saved as version 1.").waitFor();
    await page.getByText("All changes saved").waitFor();
    const list = await daemon.api("GET", "/api/v1/integrations");
    state.id = list.json.integrations.find((i) => i.name === name).id;
    const stored = await daemon.api("GET", `/api/v1/integrations/${state.id}/workflow`);
    const types = (await daemon.api("GET", "/api/v1/node-types")).json.node_types;
    checkEqual(meaning(types, stored.json), meaning(types, EXAMPLE), "stored workflow");
  });

  suite.case("settings and activation: the integration goes active with its settings", async () => {
    await page.getByRole("button", { name: "Settings…" }).click();
    const settings = {
      base_url: target.url,
      client_id: "mw-client",
      client_secret: "s3cr3t",
    };
    for (const [i, [k, v]] of Object.entries(settings).entries()) {
      await page.getByRole("button", { name: "Add setting" }).click();
      await page.getByLabel(`Name of setting ${i + 1}`).fill(k);
      await page.getByLabel(`Value of ${k}`).fill(v);
    }
    await checkAxe(page, "settings dialog");
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.getByText("Settings saved.").waitFor();
    await page.getByRole("switch", { name: `Active: ${name}` }).click();
    await page.locator(".app-bar .badge-active").waitFor();
    const it = await daemon.api("GET", `/api/v1/integrations/${state.id}`);
    checkEqual(it.json.status, "active", "status");
    checkEqual(it.json.secret_settings, ["client_secret"], "secret settings");
  });

  suite.case(
    "executions: a share sent with curl runs, and its trace shows on the canvas",
    async () => {
      const { stdout } = await run("curl", [
        "-sS",
        "-X",
        "POST",
        `${daemon.url}/api/v1/shares`,
        "-H",
        `Authorization: Bearer ${state.key}`,
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        `@${SHARE}`,
      ]);
      check(/share_id/.test(stdout), `share not accepted: ${stdout}`);
      await tab(page, "Executions");
      const first = page.locator(".execution").filter({ hasText: "Succeeded" }).first();
      await first.waitFor({ timeout: 20000 });
      await first.click();
      await page.getByText(/Showing Execution \d+: succeeded/).waitFor();
      await page.locator('.react-flow__node[data-id="create"] .wf-node.run-succeeded').waitFor();
      await page.locator('.react-flow__node[data-id="update"] .wf-node.run-skipped').waitFor();
      const entry = page.locator(".trace-list > li").filter({
        has: page.locator("summary > .mono", { hasText: /^create$/ }),
      });
      await entry.locator("summary").first().click();
      await entry.getByText("HTTP 201").waitFor();
      await checkAxe(page, "execution trace");
      await shot("07-execution-trace");
      const reqs = await target.requests();
      check(
        reqs.some((r) => r.method === "POST" && r.path === "/tickets"),
        "no ticket was created",
      );
    },
  );

  suite.case("executions: replay runs the share again, now as an update", async () => {
    await page.getByRole("button", { name: /^Replay execution/ }).click();
    await page.getByText(/replayed as share/).waitFor();
    await page
      .locator(".execution", { hasText: "replay of" })
      .filter({ hasText: "Succeeded" })
      .first()
      .waitFor({ timeout: 20000 });
    const reqs = await until(async () => {
      const r = await target.requests();
      return r.some((x) => x.method === "PUT") && r;
    }, "the update request");
    check(
      reqs.some((r) => r.method === "PUT" && r.path.startsWith("/tickets/EXT-")),
      "the replay did not update the ticket",
    );
    await page.getByRole("button", { name: "Clear", exact: true }).click();
  });

  suite.case("test run: a dry run shows each node's status, output and request", async () => {
    await tab(page, "Test");
    await page.getByLabel(/Dry run/).check();
    await page.getByRole("button", { name: "Run test" }).click();
    const summary = page.locator(".run-summary");
    await summary.waitFor({ timeout: 20000 });
    check((await summary.locator(".trace-list > li").count()) >= 3, "too few nodes in the trace");
    await page.locator('.react-flow__node[data-id="route"] .wf-node.run-succeeded').waitFor();
    await checkAxe(page, "test run");
    await shot("08-test-run");
    await summary.getByRole("button", { name: "Clear from canvas" }).click();
  });

  suite.case("export: the file is the stored workflow, without secrets", async () => {
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Export" }).click(),
    ]);
    const text = fs.readFileSync(await download.path(), "utf8");
    check(!text.includes("s3cr3t"), "the export holds the client secret");
    const stored = await daemon.api("GET", `/api/v1/integrations/${state.id}/workflow`);
    checkEqual(text, stored.text, "exported text");
  });

  suite.case("code view: switching to the code and back changes nothing", async () => {
    const before = await codeText(page);
    const again = await codeText(page);
    checkEqual(again, before, "code view text");
    await page.getByText("All changes saved").waitFor();
    await page.getByRole("button", { name: "Code", exact: true }).click();
    await checkAxe(page, "code view");
    await shot("09-code-view");
    const edited = before.replace('"Link the ticket"', '"Link it"');
    await page.locator("#code-text").fill(edited);
    await page.getByRole("button", { name: "Canvas", exact: true }).click();
    await page.locator('.react-flow__node[data-id="save"]', { hasText: "Link it" }).waitFor();
    await page.getByRole("button", { name: "Undo" }).click();
    await page
      .locator('.react-flow__node[data-id="save"]', {
        hasText: "Link the ticket",
      })
      .waitFor();
    await page.getByText("All changes saved").waitFor();
    checkEqual(await codeText(page), before, "code after undo");
  });

  suite.case("import: a broken file lists its errors with paths and marks the nodes", async () => {
    const broken = structuredClone(EXAMPLE);
    delete broken.editor;
    broken.nodes[2].config.output = undefined;
    broken.nodes[3].type = "http_requst";
    broken.connections[1].port = "nwe";
    const file = path.join(os.tmpdir(), `broken-${vp.width}.json`);
    fs.writeFileSync(file, JSON.stringify(broken, null, 2));
    await page.locator('input[type="file"]').setInputFiles(file);
    await page.getByText(/Imported broken-\d+\.json as a draft/).waitFor();
    const list = page.locator("#problems-list");
    for (const p of ["$.nodes[2].config.output", "$.nodes[3].type", "$.connections[1].port"]) {
      await list.getByText(p, { exact: true }).waitFor();
    }
    await list.getByText(/Did you mean "http_request"\?/).waitFor();
    await page.locator('.react-flow__node[data-id="build_create"] .wf-node.has-problems').waitFor();
    await page.locator('.react-flow__node[data-id="create"] .wf-node.unknown-type').waitFor();
    await page.locator('.react-flow__edge[data-id="route:nwe"].edge-problem').waitFor();
    await list.getByText("$.nodes[2].config.output", { exact: true }).click();
    await until(
      () =>
        page.evaluate((id) => document.activeElement?.id === id, fieldId("build_create", "output")),
      "focus on the field with the problem",
    );
    await checkAxe(page, "import problems");
    await shot("10-import-problems");
    fs.writeFileSync(file, '{ "format": 1, "nodes": [ }');
    await page.locator('input[type="file"]').setInputFiles(file);
    await list.getByText(/is not valid JSON \(line 1, column \d+/).waitFor();
    fs.rmSync(file);
    await page.getByRole("button", { name: "Undo" }).click();
    await page.getByText("All changes saved").waitFor();
  });

  suite.case("keyboard: add, fill, wire, delete and undo without the mouse", async () => {
    await page.locator('[data-node-type="transform"]').focus();
    await page.keyboard.press("Enter");
    await page.locator('.react-flow__node[data-id="transform"]').waitFor();
    const tpl = page.locator(`#${fieldId("transform", "template")}`);
    await tpl.focus();
    await page.keyboard.type("{{metadata.incident_");
    await page.keyboard.press("Enter");
    checkEqual(await tpl.inputValue(), "{{metadata.incident_id}}", "completed by keyboard");
    await page.locator(`#${fieldId("transform", "output")}`).focus();
    await page.keyboard.type("note");
    await page.locator('.react-flow__node[data-id="update"]').focus();
    await page.keyboard.press("Enter");
    const sel = page.locator(`#${fieldId("update", "$port", "error")}`);
    await sel.waitFor();
    const options = await sel.locator("option").allTextContents();
    await sel.focus();
    for (let i = 0; i < options.findIndex((o) => o.includes("(transform)")); i++) {
      await page.keyboard.press("ArrowDown");
    }
    await page.locator('.react-flow__edge[data-id="update:error"].edge-error').waitFor();
    await shot("11-keyboard-wired");
    await page.locator('.react-flow__node[data-id="transform"]').focus();
    await page.keyboard.press("Enter");
    await page.locator(`#${fieldId("transform", "$id")}`).waitFor();
    await page.locator('.react-flow__node[data-id="transform"]').focus();
    await page.keyboard.press("Delete");
    await until(
      async () => !(await page.locator('.react-flow__node[data-id="transform"]').count()),
      "the node to go",
    );
    await page.keyboard.press("Control+z");
    await page.locator('.react-flow__node[data-id="transform"]').waitFor();
    for (let i = 0; i < 40 && !(await page.getByText("All changes saved").count()); i++) {
      await page.locator(".react-flow__pane").focus();
      await page.keyboard.press("Control+z");
    }
    await page.getByText("All changes saved").waitFor();
    await page.getByRole("tab", { name: "Node" }).focus();
    await page.keyboard.press("ArrowRight");
    check(
      (await page.getByRole("tab", { name: "Test" }).getAttribute("aria-selected")) === "true",
      "arrow keys do not move between tabs",
    );
    await page.getByRole("button", { name: "Settings…" }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("dialog").waitFor();
    await page.keyboard.press("Escape");
    await until(async () => !(await page.getByRole("dialog").count()), "the dialog to close");
  });

  suite.case(
    "generate: the prompt box opens, and says when generation is unavailable",
    async () => {
      await page.getByRole("button", { name: "Generate…" }).click();
      await checkAxe(page, "generate dialog");
      await page
        .getByLabel("What should the integration do?")
        .fill("Create a ticket for new incidents and update it later.");
      const answer = await daemon.api("POST", "/api/v1/generate", {
        prompt: "x",
      });
      await con.allowing(["/api/v1/generate"], async () => {
        await page.getByRole("button", { name: "Generate draft" }).click();
        if (answer.status === 404) {
          await page.getByText("Workflow generation is not available").waitFor();
        } else {
          await page.getByText("Generated draft").waitFor({ timeout: 30000 });
        }
      });
      await shot("12-generate");
      if (await page.getByRole("dialog").count()) await page.keyboard.press("Escape");
      if (answer.status !== 404) await page.getByRole("button", { name: "Undo" }).click();
    },
  );

  suite.case("integrations: rename, deactivate and delete from the list", async () => {
    await page.getByRole("link", { name: "Integrations" }).click();
    await page.getByRole("heading", { name: "Integrations", level: 1 }).waitFor();
    await page.getByRole("button", { name: `Rename ${name}` }).click();
    await page.getByLabel("Name", { exact: true }).fill(`${name} renamed`);
    await checkAxe(page, "rename dialog");
    await page.getByRole("dialog").getByRole("button", { name: "Rename" }).click();
    const renamed = `${name} renamed`;
    await page.getByRole("link", { name: renamed }).waitFor();
    const sw = page.getByRole("switch", { name: `Active: ${renamed}` });
    await sw.click();
    await until(async () => (await sw.getAttribute("aria-checked")) === "false", "inactive");
    await sw.click();
    await until(async () => (await sw.getAttribute("aria-checked")) === "true", "active again");
    await createIntegration(page, `Scratch ${vp.width}`);
    await page.getByRole("button", { name: "Close", exact: true }).first().click();
    await page.getByRole("button", { name: `Delete Scratch ${vp.width}` }).click();
    await checkAxe(page, "delete confirmation");
    await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
    await until(
      async () => !(await page.getByRole("link", { name: `Scratch ${vp.width}` }).count()),
      "the deleted integration to go",
    );
    await checkAxe(page, "integrations list");
    await shot("13-integrations-after");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Admin token").waitFor();
  });
}

async function main() {
  const binary = path.resolve(process.argv[2] ?? path.join(ROOT, "build/moonwire"));
  const totals = { passed: 0, failed: 0, skipped: 0 };
  let target;
  let daemon;
  let browser;
  try {
    target = await startTarget();
    daemon = await startDaemon(binary);
    const home = await fetch(daemon.url + "/");
    if (!home.ok || !(await home.text()).includes('id="root"')) {
      throw new Error(
        `the daemon does not serve the built editor at / (HTTP ${home.status}): ` +
          "build it with scripts/editor.sh and hook moonwire.static into the API",
      );
    }
    browser = await startBrowser();
    await browser.context.grantPermissions(["clipboard-read", "clipboard-write"], {
      origin: daemon.url,
    });
    for (const vp of VIEWPORTS) {
      const page = await browser.context.newPage();
      await page.setViewportSize(vp);
      page.setDefaultTimeout(10000);
      const con = watchConsole(page);
      const suite = new Suite();
      cases(suite, { daemon, target, page, console: con }, vp);
      await suite.run(
        `[${vp.width}x${vp.height}] `,
        () => {
          const errs = con.take();
          if (errs.length) throw new Error(`console errors:\n  ${errs.join("\n  ")}`);
        },
        (name) => screenshot(page, `${vp.width}x${vp.height}-FAILED-${name.split(":")[0]}`),
      );
      for (const k of Object.keys(totals)) totals[k] += suite[k];
      await page.close();
    }
    const report = SANITIZER_SIGNS.find((sign) => daemon.readLog().includes(sign));
    if (report) throw new Error(`sanitizer report in the daemon log (${daemon.dir}): ${report}`);
  } catch (e) {
    console.log(`FAIL  suite\n      ${e.stack ?? e}`);
    totals.failed++;
  } finally {
    await browser?.stop();
    daemon?.stop();
    target?.stop();
  }
  // the daemon's data and log stay for a look when something failed
  if (daemon && totals.failed) console.log(`daemon data and log: ${daemon.dir}`);
  else if (daemon) fs.rmSync(daemon.dir, { recursive: true, force: true });
  console.log(`screenshots: ${SHOTS}`);
  const skipped = totals.skipped ? `, ${totals.skipped} skipped` : "";
  console.log(`${totals.passed} passed, ${totals.failed} failed${skipped}`);
  process.exit(totals.failed ? 1 : 0);
}

main();
