// What the tests do on the editor's screens, in the words of a user:
// sign in, create an integration, drop a node, fill a field, wire ports.
// SPDX-License-Identifier: MIT
import { check, until } from "./harness.mjs";

/** The DOM id the editor gives a node's field (see fields/context.ts). */
export function fieldId(node, ...steps) {
  return ["f", node, ...steps].join("-").replace(/[^A-Za-z0-9_-]/g, "_");
}

export async function signIn(page, url, token) {
  await page.goto(url + "/");
  await page.getByLabel("Admin token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Integrations", level: 1 }).waitFor();
}

/** Creates an integration; returns the app key shown once. */
export async function createIntegration(page, name) {
  await page.getByRole("button", { name: "New integration" }).click();
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByRole("dialog").getByRole("button", { name: "Create" }).click();
  const key = await page.getByLabel("App key", { exact: true }).inputValue();
  check(/^mwk_[0-9a-f]+$/.test(key), `app key looks wrong: ${key}`);
  return key;
}

export async function openDesigner(page, name) {
  await page.getByRole("link", { name, exact: true }).click();
  await page.locator(".react-flow__pane").waitFor();
}

/** Drags a palette entry onto the canvas at (x, y) of the pane; returns the new node's id. */
export async function dropNode(page, type, x, y) {
  const before = await page.locator(".react-flow__node").count();
  await page.dragAndDrop(`[data-node-type="${type}"]`, ".react-flow__pane", {
    targetPosition: { x: x + 110, y: y + 30 },
  });
  await until(
    async () => (await page.locator(".react-flow__node").count()) === before + 1,
    `a ${type} node on the canvas`,
  );
  const idField = page.locator("#node-form-title");
  await idField.waitFor();
  return page.locator('input[id$="-_id"]').inputValue();
}

/** Gives the selected node a new id (committed with Enter). */
export async function renameSelected(page, from, to) {
  const input = page.locator(`#${fieldId(from, "$id")}`);
  await input.fill(to);
  await input.press("Enter");
  await page.locator(`.react-flow__node[data-id="${to}"]`).waitFor();
}

export async function fill(page, node, steps, value) {
  await page.locator(`#${fieldId(node, ...steps)}`).fill(value);
}

export async function selectNode(page, id) {
  await page.locator(`.react-flow__node[data-id="${id}"] .wf-node-label`).click();
  await page.locator(`#${fieldId(id, "$id")}`).waitFor();
}

/** Drags from a node's port handle to another node's input handle. */
export async function wire(page, from, port, to) {
  const src = page.locator(
    `.react-flow__node[data-id="${from}"] .react-flow__handle[data-handleid="${port}"]`,
  );
  const dst = page.locator(`.react-flow__node[data-id="${to}"] .react-flow__handle.target`);
  const a = await src.boundingBox();
  const b = await dst.boundingBox();
  check(a && b, `handles of ${from}.${port} and ${to} are not on screen`);
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 12 });
  await page.mouse.up();
  await page.locator(`.react-flow__edge[data-id="${from}:${port}"]`).waitFor({ timeout: 5000 });
}

export async function tab(page, name) {
  await page.getByRole("tab", { name }).click();
}

/** The code view's text, read by switching to it and back. */
export async function codeText(page) {
  await page.getByRole("button", { name: "Code", exact: true }).click();
  const text = await page.locator("#code-text").inputValue();
  await page.getByRole("button", { name: "Canvas", exact: true }).click();
  await page.locator(".react-flow__pane").waitFor();
  return text;
}
