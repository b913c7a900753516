// The workflow document as the editor holds it: the JSON exactly as read,
// with every unknown key kept, and read-only views of its parts that cope
// with a document too broken to draw. Edits live in edit.ts.
// SPDX-License-Identifier: MIT
import { isObject, type Json, type JsonObject } from "../json";

export interface WfNode {
  id: string;
  type: string;
  label?: string;
  config: JsonObject;
  /** Index in the document's nodes array, for JSON paths. */
  index: number;
}

export interface WfConnection {
  from: string;
  port: string;
  to: string;
  index: number;
}

export interface XY {
  x: number;
  y: number;
}

export const NODE_ID = /^[A-Za-z0-9_-]+$/;

export function emptyWorkflow(name = ""): JsonObject {
  const doc: JsonObject = { format: 1 };
  if (name) doc.name = name;
  doc.nodes = [];
  doc.connections = [];
  doc.editor = { positions: {} };
  return doc;
}

function rawNodes(doc: Json): Json[] {
  return isObject(doc) && Array.isArray(doc.nodes) ? doc.nodes : [];
}

function rawConnections(doc: Json): Json[] {
  return isObject(doc) && Array.isArray(doc.connections) ? doc.connections : [];
}

/** The nodes that have at least a string id; others cannot be drawn. */
export function nodesOf(doc: Json): WfNode[] {
  const out: WfNode[] = [];
  const seen = new Set<string>();
  rawNodes(doc).forEach((n, index) => {
    if (!isObject(n) || typeof n.id !== "string" || seen.has(n.id)) return;
    seen.add(n.id);
    out.push({
      id: n.id,
      type: typeof n.type === "string" ? n.type : "",
      label: typeof n.label === "string" ? n.label : undefined,
      config: isObject(n.config) ? n.config : {},
      index,
    });
  });
  return out;
}

export function connectionsOf(doc: Json): WfConnection[] {
  const out: WfConnection[] = [];
  rawConnections(doc).forEach((c, index) => {
    if (!isObject(c)) return;
    const { from, port, to } = c;
    if (typeof from === "string" && typeof port === "string" && typeof to === "string") {
      out.push({ from, port, to, index });
    }
  });
  return out;
}

export function positionsOf(doc: Json): Record<string, XY> {
  const out: Record<string, XY> = {};
  const editor = isObject(doc) ? doc.editor : undefined;
  const pos = isObject(editor) ? editor.positions : undefined;
  if (!isObject(pos)) return out;
  for (const [id, p] of Object.entries(pos)) {
    if (isObject(p) && typeof p.x === "number" && typeof p.y === "number") {
      out[id] = { x: p.x, y: p.y };
    }
  }
  return out;
}

export function findNode(doc: Json, id: string): WfNode | undefined {
  return nodesOf(doc).find((n) => n.id === id);
}

/** True when some drawable node has no stored position. */
export function needsLayout(doc: Json): boolean {
  const pos = positionsOf(doc);
  return nodesOf(doc).some((n) => !pos[n.id]);
}

/** Ids reached through connections: every node but the start has one. */
export function startNodes(doc: Json): string[] {
  const targets = new Set(connectionsOf(doc).map((c) => c.to));
  return nodesOf(doc)
    .filter((n) => !targets.has(n.id))
    .map((n) => n.id);
}
