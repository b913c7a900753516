// Edits of a workflow document. Each takes the document and returns a new
// one, leaving the input untouched and every key it does not edit as it
// was, so that undo can keep old documents and the code view loses nothing.
// SPDX-License-Identifier: MIT
import { isObject, type Json, type JsonObject } from "../json";
import { nodesOf, type XY } from "./doc";

function asObject(doc: Json): JsonObject {
  return isObject(doc) ? { ...doc } : { format: 1 };
}

function nodeList(doc: JsonObject): Json[] {
  return Array.isArray(doc.nodes) ? doc.nodes : [];
}

function connectionList(doc: JsonObject): Json[] {
  return Array.isArray(doc.connections) ? doc.connections : [];
}

function positionsCopy(doc: JsonObject): JsonObject {
  const editor = isObject(doc.editor) ? doc.editor : {};
  return isObject(editor.positions) ? { ...editor.positions } : {};
}

function withPositions(doc: JsonObject, positions: JsonObject): JsonObject {
  const editor = isObject(doc.editor) ? doc.editor : {};
  return { ...doc, editor: { ...editor, positions } };
}

/** A fresh id from the type name: http_request, http_request_2, ... */
export function freshId(doc: Json, type: string): string {
  const taken = new Set(nodesOf(doc).map((n) => n.id));
  const base = type.replace(/[^A-Za-z0-9_-]/g, "_") || "node";
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) {
    if (!taken.has(`${base}_${i}`)) return `${base}_${i}`;
  }
}

export function addNode(
  doc: Json,
  type: string,
  label: string,
  at: XY,
  config: JsonObject = {},
): { doc: JsonObject; id: string } {
  const d = asObject(doc);
  const id = freshId(d, type);
  const node: JsonObject = { id, type, label, config };
  const positions = positionsCopy(d);
  positions[id] = { x: Math.round(at.x), y: Math.round(at.y) };
  const next = withPositions({ ...d, nodes: [...nodeList(d), node] }, positions);
  if (!Array.isArray(next.connections)) next.connections = [];
  return { doc: next, id };
}

/** Removes nodes with their connections and positions. */
export function removeNodes(doc: Json, ids: string[]): JsonObject {
  const d = asObject(doc);
  const gone = new Set(ids);
  const nodes = nodeList(d).filter((n) => !(isObject(n) && gone.has(String(n.id))));
  const connections = connectionList(d).filter(
    (c) => !(isObject(c) && (gone.has(String(c.from)) || gone.has(String(c.to)))),
  );
  const positions = positionsCopy(d);
  for (const id of ids) delete positions[id];
  return withPositions({ ...d, nodes, connections }, positions);
}

export function moveNodes(doc: Json, moves: Record<string, XY>): JsonObject {
  const d = asObject(doc);
  const positions = positionsCopy(d);
  for (const [id, p] of Object.entries(moves)) {
    positions[id] = { x: Math.round(p.x), y: Math.round(p.y) };
  }
  return withPositions(d, positions);
}

/** Replaces all positions, as automatic layout does. */
export function setPositions(doc: Json, positions: Record<string, XY>): JsonObject {
  const d = asObject(doc);
  const out: JsonObject = {};
  for (const [id, p] of Object.entries(positions)) {
    out[id] = { x: Math.round(p.x), y: Math.round(p.y) };
  }
  return withPositions(d, out);
}

/** Wires `from`.`port` to `to`; a port leads to one node, so this replaces. */
export function connect(doc: Json, from: string, port: string, to: string): JsonObject {
  const d = asObject(doc);
  const list = connectionList(d);
  const wire: JsonObject = { from, port, to };
  const at = list.findIndex((c) => isObject(c) && c.from === from && c.port === port);
  const connections = at < 0 ? [...list, wire] : list.map((c, i) => (i === at ? wire : c));
  return { ...d, connections };
}

export function disconnect(doc: Json, from: string, port: string): JsonObject {
  const d = asObject(doc);
  const connections = connectionList(d).filter(
    (c) => !(isObject(c) && c.from === from && c.port === port),
  );
  return { ...d, connections };
}

function mapNode(doc: Json, id: string, fn: (n: JsonObject) => JsonObject): JsonObject {
  const d = asObject(doc);
  const nodes = nodeList(d).map((n) => (isObject(n) && n.id === id ? fn(n) : n));
  return { ...d, nodes };
}

export function setLabel(doc: Json, id: string, label: string): JsonObject {
  return mapNode(doc, id, (n) => {
    const out = { ...n };
    if (label === "") delete out.label;
    else out.label = label;
    return out;
  });
}

/** Sets one config field; undefined removes it. */
export function setField(
  doc: Json,
  id: string,
  field: string,
  value: Json | undefined,
): JsonObject {
  return mapNode(doc, id, (n) => {
    const config = isObject(n.config) ? { ...n.config } : {};
    if (value === undefined) delete config[field];
    else config[field] = value;
    return { ...n, config };
  });
}

/** Renames the port of outgoing connections, when a route is renamed. */
export function renamePort(doc: Json, id: string, from: string, to: string): JsonObject {
  const d = asObject(doc);
  const connections = connectionList(d).map((c) =>
    isObject(c) && c.from === id && c.port === from ? { ...c, port: to } : c,
  );
  return { ...d, connections };
}

/** Changes a node's id everywhere it is used. */
export function renameNode(doc: Json, from: string, to: string): JsonObject {
  const d = mapNode(doc, from, (n) => ({ ...n, id: to }));
  d.connections = connectionList(d).map((c) => {
    if (!isObject(c)) return c;
    const out = { ...c };
    if (out.from === from) out.from = to;
    if (out.to === from) out.to = to;
    return out;
  });
  const positions = positionsCopy(d);
  if (positions[from] !== undefined) {
    const renamed: JsonObject = {};
    for (const [k, v] of Object.entries(positions)) renamed[k === from ? to : k] = v;
    return withPositions(d, renamed);
  }
  return d;
}

export function setTopField(doc: Json, key: "name" | "description", value: string): JsonObject {
  const d = asObject(doc);
  if (value === "") delete d[key];
  else d[key] = value;
  return d;
}
