// Checks a workflow in the browser, as the user edits or imports it, by
// the rules of docs/workflow-format.md and the node types' schemas, so
// that problems show on the field and on the node at once. Saving asks
// the server, whose answer is final.
// SPDX-License-Identifier: MIT
import type { FieldSpec, NodeType, Problem } from "../api/client";
import { isObject, LosslessNumber, type Json, type JsonObject } from "../json";
import { connectionsOf, nodesOf, NODE_ID, type WfNode } from "./doc";
import { joinPath } from "./paths";
import { portsOf, routesField, type Catalog } from "./ports";
import { checkTemplate } from "./template";

const TOP_KEYS = ["format", "name", "description", "nodes", "connections", "editor"];
const NODE_KEYS = ["id", "type", "label", "config"];
const WIRE_KEYS = ["from", "port", "to"];
const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const VAR_PATH = /^[A-Za-z_@][\w@]*(\.[\w@]+|\[\d+\]|\.?\[[^\]]+\])*$/;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;

type Report = (p: Problem) => void;

function fieldName(path: string): string {
  return path.replace(/^\$\.nodes\[\d+\]\./, "");
}

function isNumber(v: Json): boolean {
  return typeof v === "number" || v instanceof LosslessNumber;
}

function isInteger(v: Json): boolean {
  if (v instanceof LosslessNumber) return /^-?\d+$/.test(v.value);
  return typeof v === "number" && Number.isInteger(v);
}

function describe(v: Json): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (isObject(v)) return "an object";
  if (isNumber(v)) return `the number ${String(v)}`;
  if (typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

const KIND_WORDS: Record<string, string> = {
  string: "text",
  template: "a template",
  number: "a number",
  integer: "a whole number",
  boolean: "true or false",
  variable: "a variable name",
  path: "a variable path",
  object: "a JSON object",
  array: "a JSON array",
  json: "any JSON value",
  body: "a template or a JSON object or array",
  headers: "an object of header values",
};

/** Checks one value against a field spec; reports under `path`. */
function checkValue(
  spec: FieldSpec,
  v: Json,
  path: string,
  node: string | undefined,
  report: Report,
): void {
  const say = (code: string, message: string) =>
    report({ path, code, node, message: `${fieldName(path)} ${message}` });
  const kind = spec.kind;
  const stringy = ["string", "template", "variable", "path", "enum"].includes(kind);
  if (stringy && typeof v !== "string")
    return say(
      "wrong_kind",
      `must be ${
        kind === "enum" ? "one of the listed values" : KIND_WORDS[kind]
      }; it is ${describe(v)}.`,
    );
  if (kind === "enum" && spec.enum && !spec.enum.includes(v)) {
    return say("not_in_enum", `must be one of ${spec.enum.join(", ")}; it is ${describe(v)}.`);
  }
  if (kind === "variable" && !VARIABLE.test(v as string)) {
    return say("bad_variable", "must be a name: a letter or _, then letters, digits or _.");
  }
  if (kind === "path" && !VAR_PATH.test(v as string)) {
    return say("bad_path", "must be a variable path such as createResponse.id.");
  }
  if (kind === "template" || (kind === "body" && typeof v === "string")) {
    const err = checkTemplate(v as string);
    if (err) return say("bad_template", `does not compile: ${err}`);
  }
  if (
    (kind === "integer" && !isInteger(v)) ||
    (kind === "number" && !isNumber(v)) ||
    (kind === "boolean" && typeof v !== "boolean")
  ) {
    return say("wrong_kind", `must be ${KIND_WORDS[kind]}; it is ${describe(v)}.`);
  }
  if ((kind === "integer" || kind === "number") && isNumber(v)) {
    const n = Number(v);
    if (spec.min !== undefined && n < spec.min)
      return say("too_small", `must be at least ${spec.min}.`);
    if (spec.max !== undefined && n > spec.max)
      return say("too_large", `must be at most ${spec.max}.`);
  }
  if (kind === "object" && !isObject(v))
    return say("wrong_kind", `must be a JSON object; it is ${describe(v)}.`);
  if (kind === "body" && typeof v !== "string" && !isObject(v) && !Array.isArray(v)) {
    return say("wrong_kind", `must be ${KIND_WORDS.body}; it is ${describe(v)}.`);
  }
  if (kind === "headers") return checkHeaders(v, path, node, report);
  if (kind === "array") return checkArray(spec, v, path, node, report);
}

function checkHeaders(v: Json, path: string, node: string | undefined, report: Report): void {
  if (typeof v === "string") return;
  if (!isObject(v)) {
    report({
      path,
      node,
      code: "bad_headers",
      message: `${fieldName(path)} must be an object of header names to text values.`,
    });
    return;
  }
  for (const [name, value] of Object.entries(v)) {
    const at = joinPath(path, name);
    if (!HEADER_NAME.test(name)) {
      report({
        path: at,
        node,
        code: "bad_header_name",
        message: `${fieldName(path)}: "${name}" is not a valid header name.`,
      });
    } else if (typeof value !== "string" && value !== null) {
      report({
        path: at,
        node,
        code: "bad_header_value",
        message: `${fieldName(path)}: header "${name}" must have a text value.`,
      });
    }
  }
}

function checkArray(
  spec: FieldSpec,
  v: Json,
  path: string,
  node: string | undefined,
  report: Report,
): void {
  if (!Array.isArray(v)) {
    report({
      path,
      node,
      code: "wrong_kind",
      message: `${fieldName(path)} must be a JSON array; it is ${describe(v)}.`,
    });
    return;
  }
  if (spec.min !== undefined && v.length < spec.min) {
    report({
      path,
      node,
      code: "too_few",
      message: `${fieldName(path)} needs at least ${spec.min} item${spec.min === 1 ? "" : "s"}.`,
    });
  }
  v.forEach((item, i) => {
    const at = joinPath(path, i);
    if (Array.isArray(spec.items)) checkFields(spec.items, item, at, node, report);
    else if (isObject(spec.items)) checkValue(spec.items as FieldSpec, item, at, node, report);
    else if (typeof spec.items === "string") {
      checkValue(
        { name: "", kind: spec.items, required: false, secret: false },
        item,
        at,
        node,
        report,
      );
    }
  });
}

/**
 * Checks an object against a field list. `kept` names secret fields the
 * server keeps from the saved version, which may therefore be absent.
 */
export function checkFields(
  fields: FieldSpec[],
  value: Json,
  path: string,
  node: string | undefined,
  report: Report,
  kept: Set<string> = new Set(),
): void {
  if (!isObject(value)) {
    report({
      path,
      node,
      code: "not_object",
      message: `${fieldName(path)} must be a JSON object; it is ${describe(value)}.`,
    });
    return;
  }
  for (const spec of fields) {
    const at = joinPath(path, spec.name);
    const v = value[spec.name];
    const absent = v === undefined || (v === null && spec.kind !== "json");
    if (absent) {
      if (spec.required && !(spec.secret && kept.has(spec.name))) {
        report({
          path: at,
          node,
          code: v === null ? "null" : "missing",
          message: `${fieldName(at)} is required: fill it in.`,
        });
      }
      continue;
    }
    checkValue(spec, v, at, node, report);
  }
  const known = new Set(fields.map((f) => f.name));
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      report({
        path: joinPath(path, key),
        node,
        code: "unknown_field",
        message: `${fieldName(joinPath(path, key))} is not a field of this node type: remove it.`,
      });
    }
  }
}

/** Flow control's own rules: distinct route ports, no "default", one value form. */
function checkRoutes(type: NodeType, n: WfNode, base: string, report: Report): void {
  const field = routesField(type);
  const routes = field ? n.config[field.name] : undefined;
  if (!field || !Array.isArray(routes)) return;
  const seen = new Set<string>();
  routes.forEach((r, i) => {
    if (!isObject(r)) return;
    const at = joinPath(joinPath(`${base}.config`, field.name), i);
    const say = (path: string, message: string) =>
      report({ path, node: n.id, code: "invalid", message });
    if (r.port === "default") {
      say(`${at}.port`, `Route ${i + 1}: the port name "default" is reserved for no match.`);
    } else if (typeof r.port === "string" && seen.has(r.port)) {
      say(`${at}.port`, `Route ${i + 1}: port "${r.port}" is used by another route.`);
    }
    if (typeof r.port === "string") seen.add(r.port);
    if ((r.value === undefined) === (r.values === undefined)) {
      say(at, `Route ${i + 1}: give either a value or a list of values.`);
    }
  });
}

function closest(name: string, options: string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const o of options) {
    const d = distance(name, o);
    if (d < bestD) [best, bestD] = [o, d];
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

function unknownKeys(
  obj: JsonObject,
  allowed: string[],
  base: string,
  what: string,
  report: Report,
  node?: string,
): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      report({
        path: joinPath(base, key),
        node,
        code: "unknown_key",
        message: `"${key}" is not a key of ${what}; the keys are ${allowed.join(", ")}.`,
      });
    }
  }
}

function checkTop(doc: JsonObject, report: Report): void {
  if (doc.format === undefined) {
    report({ path: "$.format", code: "no_format", message: 'Add "format": 1.' });
  } else if (doc.format !== 1) {
    report({
      path: "$.format",
      code: "bad_format",
      message: `"format" must be 1; it is ${describe(doc.format)}.`,
    });
  }
  unknownKeys(doc, TOP_KEYS, "$", "a workflow", report);
  for (const key of ["name", "description"]) {
    const v = doc[key];
    if (v !== undefined && v !== null && typeof v !== "string") {
      report({ path: `$.${key}`, code: "not_string", message: `"${key}" must be text.` });
    }
  }
}

function checkNode(
  raw: Json,
  i: number,
  catalog: Catalog,
  ids: Set<string>,
  kept: Map<string, Set<string>>,
  broken: Set<string>,
  report: Report,
): void {
  const base = `$.nodes[${i}]`;
  if (!isObject(raw)) {
    report({ path: base, code: "not_object", message: `Node ${i + 1} must be a JSON object.` });
    return;
  }
  const id = typeof raw.id === "string" ? raw.id : undefined;
  if (raw.id === undefined)
    report({ path: base, code: "no_id", message: `Node ${i + 1} has no "id".` });
  else if (!id || !NODE_ID.test(id)) {
    report({
      path: `${base}.id`,
      code: "bad_id",
      message: `Node ${i + 1}: the id may hold only letters, digits, _ and -.`,
    });
  } else if (ids.has(id)) {
    report({
      path: `${base}.id`,
      node: id,
      code: "dup_id",
      message: `Node id "${id}" is used twice; give each node its own id.`,
    });
  }
  if (id) ids.add(id);
  unknownKeys(raw, NODE_KEYS, base, "a node", report, id);
  if (raw.label !== undefined && typeof raw.label !== "string") {
    report({
      path: `${base}.label`,
      node: id,
      code: "not_string",
      message: "The label must be text.",
    });
  }
  const type = typeof raw.type === "string" ? catalog.get(raw.type) : undefined;
  if (raw.type === undefined) {
    report({ path: base, node: id, code: "no_type", message: `Node ${i + 1} has no "type".` });
  } else if (!type) {
    const names = [...catalog.keys()];
    const near = closest(String(raw.type), names);
    report({
      path: `${base}.type`,
      node: id,
      code: "unknown_type",
      message:
        `There is no node type ${describe(raw.type)}.${near ? ` Did you mean "${near}"?` : ""}` +
        ` The types are ${names.join(", ")}.`,
    });
  }
  if (!type) {
    if (id) broken.add(id);
    return;
  }
  let bad = false;
  const count: Report = (p) => {
    bad = true;
    report(p);
  };
  const config = raw.config === undefined ? {} : raw.config;
  checkFields(type.schema, config, `${base}.config`, id, count, kept.get(id ?? ""));
  if (!bad)
    checkRoutes(
      type,
      { id: id ?? "", type: type.type, config: config as JsonObject, index: i },
      base,
      count,
    );
  if (bad && id) broken.add(id);
}

function checkWires(doc: JsonObject, catalog: Catalog, broken: Set<string>, report: Report): void {
  const nodes = new Map(nodesOf(doc).map((n) => [n.id, n]));
  const wired = new Set<string>();
  const list = doc.connections;
  if (list === undefined) return;
  if (!Array.isArray(list)) {
    report({
      path: "$.connections",
      code: "not_array",
      message: '"connections" must be an array.',
    });
    return;
  }
  const wires = connectionsOf(doc);
  list.forEach((c, i) => {
    const base = `$.connections[${i}]`;
    if (!isObject(c)) {
      report({ path: base, code: "not_object", message: `Connection ${i + 1} must be an object.` });
      return;
    }
    unknownKeys(c, WIRE_KEYS, base, "a connection", report);
    for (const key of WIRE_KEYS) {
      if (typeof c[key] !== "string") {
        report({
          path: joinPath(base, key),
          code: key === "port" ? "no_port" : "no_end",
          message: `Connection ${i + 1} needs "${key}" as text.`,
        });
      }
    }
    const from = nodes.get(String(c.from));
    for (const key of ["from", "to"]) {
      if (typeof c[key] === "string" && !nodes.has(c[key] as string)) {
        report({
          path: `${base}.${key}`,
          code: "no_such_node",
          message: `Connection ${i + 1} names node "${c[key]}", which does not exist.`,
        });
      }
    }
    if (!from || typeof c.port !== "string") return;
    const ports = portsOf(from, catalog, wires).map((p) => p.name);
    if (!broken.has(from.id) && !ports.includes(c.port)) {
      report({
        path: `${base}.port`,
        code: "no_such_port",
        message: `Node "${from.id}" has no port "${c.port}"; its ports are ${ports.join(", ")}.`,
      });
    }
    const key = `${from.id}\u0000${c.port}`;
    if (wired.has(key)) {
      report({
        path: base,
        code: "port_twice",
        message: `Port "${c.port}" of "${from.id}" is wired twice; a port leads to one node.`,
      });
    }
    wired.add(key);
  });
}

function checkGraph(doc: JsonObject, report: Report): void {
  const nodes = nodesOf(doc);
  if (nodes.length === 0) return;
  const wires = connectionsOf(doc).filter(
    (c) => nodes.some((n) => n.id === c.to) && nodes.some((n) => n.id === c.from),
  );
  const next = new Map<string, string[]>(nodes.map((n) => [n.id, []]));
  for (const w of wires) next.get(w.from)!.push(w.to);
  const starts = nodes.filter((n) => !wires.some((w) => w.to === n.id));
  if (starts.length === 0) {
    report({
      path: "$.nodes",
      code: "no_start",
      message: "Every node has an incoming connection, so none can start: remove one.",
    });
  } else if (starts.length > 1) {
    report({
      path: "$.nodes",
      code: "many_starts",
      message:
        `${starts.length} nodes have no ` +
        `incoming connection (${starts.map((n) => n.id).join(", ")}); wire all but the first.`,
    });
  }
  const cycle = findCycle(
    nodes.map((n) => n.id),
    next,
  );
  if (cycle) {
    const at = wires.find(
      (w) => w.from === cycle[cycle.length - 2] && w.to === cycle[cycle.length - 1],
    );
    report({
      path: at ? `$.connections[${at.index}]` : "$.connections",
      code: "cycle",
      message: `The connections loop: ${cycle.join(" → ")}. Remove one of them.`,
    });
  }
  if (starts.length === 1) {
    const seen = new Set<string>([starts[0].id]);
    const stack = [starts[0].id];
    while (stack.length)
      for (const t of next.get(stack.pop()!) ?? []) {
        if (!seen.has(t)) {
          seen.add(t);
          stack.push(t);
        }
      }
    for (const n of nodes)
      if (!seen.has(n.id)) {
        report({
          path: `$.nodes[${n.index}]`,
          node: n.id,
          code: "unreachable",
          message: `Node "${n.id}" is never reached from the start node "${starts[0].id}".`,
        });
      }
  }
}

function findCycle(ids: string[], next: Map<string, string[]>): string[] | null {
  const state = new Map<string, 1 | 2>();
  const trail: string[] = [];
  const visit = (id: string): string[] | null => {
    state.set(id, 1);
    trail.push(id);
    for (const t of next.get(id) ?? []) {
      if (state.get(t) === 1) return [...trail.slice(trail.indexOf(t)), t];
      if (!state.has(t)) {
        const found = visit(t);
        if (found) return found;
      }
    }
    trail.pop();
    state.set(id, 2);
    return null;
  };
  for (const id of ids)
    if (!state.has(id)) {
      const found = visit(id);
      if (found) return found;
    }
  return null;
}

/**
 * Every problem in `doc`, in document order. `kept` gives, per node id,
 * the secret fields the server holds for it from the saved version.
 */
export function validateWorkflow(
  doc: Json,
  catalog: Catalog,
  kept: Map<string, Set<string>> = new Map(),
): Problem[] {
  const out: Problem[] = [];
  const report: Report = (p) => out.push(p);
  if (!isObject(doc)) {
    return [{ path: "$", code: "not_object", message: "A workflow must be a JSON object." }];
  }
  checkTop(doc, report);
  const broken = new Set<string>();
  if (doc.nodes === undefined) {
    report({ path: "$", code: "no_nodes_key", message: 'Add a "nodes" array.' });
  } else if (!Array.isArray(doc.nodes)) {
    report({ path: "$.nodes", code: "not_array", message: '"nodes" must be an array.' });
  } else if (doc.nodes.length === 0) {
    report({
      path: "$.nodes",
      code: "no_nodes",
      message: "The workflow has no nodes: drag one from the palette.",
    });
  } else {
    const ids = new Set<string>();
    doc.nodes.forEach((n, i) => checkNode(n, i, catalog, ids, kept, broken, report));
  }
  checkWires(doc, catalog, broken, report);
  checkGraph(doc, report);
  return out;
}
