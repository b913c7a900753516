// Exports: the canonical text docs/workflow-format.md describes (2-space
// indent, keys in a fixed order, secret fields removed), so an export from
// the editor is the same as one from the daemon. Also which secrets the
// server keeps for nodes of the saved version.
// SPDX-License-Identifier: MIT
import type { FieldSpec } from "../api/client";
import { isObject, toJson, type Json } from "../json";
import { nodesOf } from "./doc";
import type { Catalog } from "./ports";

const TOP_KEYS = ["format", "name", "description", "nodes", "connections", "editor"];
const NODE_KEYS = ["id", "type", "label", "config"];
const WIRE_KEYS = ["from", "port", "to"];

/** Key order of an object and the shapes of its children. */
interface Shape {
  order?: string[];
  fields?: Record<string, Shape>;
  each?: Shape | ((item: Json) => Shape | undefined);
}

function secretNames(catalog: Catalog, type: string): string[] {
  return (
    catalog
      .get(type)
      ?.schema.filter((f) => f.secret)
      .map((f) => f.name) ?? []
  );
}

// A secret field that only names a setting holds no secret, so exports
// keep it (as the daemon's do) and the workflow imports and runs as it was.
const SETTING_REFERENCE = /^\s*\{\{~?\s*integration\.\w+\s*~?\}\}\s*$/;

/** A config without its secret fields, also inside arrays of objects. */
function stripConfig(fields: FieldSpec[], config: Json): Json {
  if (!isObject(config)) return config;
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(config)) {
    const spec = fields.find((f) => f.name === k);
    if (spec?.secret && !(typeof v === "string" && SETTING_REFERENCE.test(v))) continue;
    const items = spec?.kind === "array" && Array.isArray(spec.items) ? spec.items : null;
    out[k] = items && Array.isArray(v) ? v.map((item) => stripConfig(items, item)) : v;
  }
  return out;
}

// Without its schema (the type is not installed), fields are judged by name.
const SECRET_NAME = /secret|password|token|api_?key|private|routing_key|credential/;

function stripByName(config: Record<string, Json>): Json {
  return Object.fromEntries(
    Object.entries(config).filter(([k]) => !SECRET_NAME.test(k.toLowerCase())),
  );
}

/** The document without secret fields in node configs. */
export function withoutSecrets(doc: Json, catalog: Catalog): Json {
  if (!isObject(doc) || !Array.isArray(doc.nodes)) return doc;
  const nodes = doc.nodes.map((n) => {
    if (!isObject(n) || !isObject(n.config) || typeof n.type !== "string") return n;
    const type = catalog.get(n.type);
    return { ...n, config: type ? stripConfig(type.schema, n.config) : stripByName(n.config) };
  });
  return { ...doc, nodes };
}

function configShape(fields: FieldSpec[]): Shape {
  const shape: Shape = { order: fields.map((f) => f.name), fields: {} };
  for (const f of fields) {
    if (f.kind === "array" && Array.isArray(f.items))
      shape.fields![f.name] = { each: configShape(f.items) };
  }
  return shape;
}

function docShape(catalog: Catalog): Shape {
  const node = (n: Json): Shape => {
    const type = isObject(n) && typeof n.type === "string" ? catalog.get(n.type) : undefined;
    return { order: NODE_KEYS, fields: { config: configShape(type?.schema ?? []) } };
  };
  return {
    order: TOP_KEYS,
    fields: { nodes: { each: node }, connections: { each: { order: WIRE_KEYS } } },
  };
}

function orderedKeys(obj: Record<string, Json>, order: string[] = []): string[] {
  const listed = order.filter((k) => obj[k] !== undefined);
  const rest = Object.keys(obj)
    .filter((k) => !order.includes(k))
    .sort();
  return [...listed, ...rest];
}

function emit(v: Json, depth: number, shape: Shape | undefined, out: string[]): void {
  const pad = "  ".repeat(depth + 1);
  if (Array.isArray(v) && v.length > 0) {
    out.push("[\n");
    v.forEach((item, i) => {
      const sub = typeof shape?.each === "function" ? shape.each(item) : shape?.each;
      out.push(pad);
      emit(item, depth + 1, sub, out);
      out.push(i < v.length - 1 ? ",\n" : "\n");
    });
    out.push(`${"  ".repeat(depth)}]`);
  } else if (isObject(v) && Object.keys(v).length > 0) {
    const keys = orderedKeys(v, shape?.order);
    out.push("{\n");
    keys.forEach((k, i) => {
      out.push(`${pad}${JSON.stringify(k)}: `);
      emit(v[k], depth + 1, shape?.fields?.[k], out);
      out.push(i < keys.length - 1 ? ",\n" : "\n");
    });
    out.push(`${"  ".repeat(depth)}}`);
  } else {
    out.push(toJson(v, 0));
  }
}

/** The text of an export: canonical JSON with a final newline, no secrets. */
export function exportText(doc: Json, catalog: Catalog): string {
  const out: string[] = [];
  emit(withoutSecrets(doc, catalog), 0, docShape(catalog), out);
  return `${out.join("")}\n`;
}

/**
 * Per node id, the secret fields a stored workflow came without: the
 * server keeps them when the same node is saved again.
 */
export function keptSecrets(stored: Json, catalog: Catalog): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const n of nodesOf(stored)) {
    const missing = secretNames(catalog, n.type).filter((s) => n.config[s] === undefined);
    if (missing.length) out.set(n.id, new Set(missing));
  }
  return out;
}
