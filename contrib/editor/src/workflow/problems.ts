// Where each problem shows: on which node, on which of its fields, on
// which connection. Problems point by JSON path into the document.
// SPDX-License-Identifier: MIT
import type { Problem } from "../api/client";
import { isObject, type Json } from "../json";
import { targetOf, type Step } from "./paths";

export interface Placed extends Problem {
  /** Node id the problem is about, when it is about one. */
  nodeId?: string;
  /** Config field (or $id, $label, $type for the node's own keys). */
  field?: string;
  rest: Step[];
  /** "from\0port" of the connection it is about. */
  edge?: string;
  origin: "editor" | "server";
}

export interface ProblemIndex {
  all: Placed[];
  byNode: Map<string, Placed[]>;
  edges: Set<string>;
}

export function edgeKey(from: string, port: string): string {
  return `${from}:${port}`;
}

function rawAt(doc: Json, key: "nodes" | "connections", i: number | undefined): Json | undefined {
  if (i === undefined || !isObject(doc)) return undefined;
  const list = doc[key];
  return Array.isArray(list) ? list[i] : undefined;
}

export function place(doc: Json, p: Problem, origin: Placed["origin"]): Placed {
  const t = targetOf(p.path);
  const out: Placed = { ...p, origin, rest: t.fieldRest ?? [], field: t.field };
  const node = rawAt(doc, "nodes", t.nodeIndex);
  if (p.node) out.nodeId = p.node;
  else if (isObject(node) && typeof node.id === "string") out.nodeId = node.id;
  const wire = rawAt(doc, "connections", t.connectionIndex);
  if (isObject(wire) && typeof wire.from === "string") {
    out.nodeId = out.nodeId ?? wire.from;
    if (typeof wire.port === "string") out.edge = edgeKey(wire.from, wire.port);
  }
  return out;
}

/**
 * Indexes problems found by the editor (paths into `doc`) and those the
 * server reported for `serverDoc`, the document it was sent.
 */
export function indexProblems(
  doc: Json,
  local: Problem[],
  serverDoc: Json,
  server: Problem[],
): ProblemIndex {
  // the server's answer holds while the document is the one it judged
  const fromServer = doc === serverDoc ? server : [];
  const seen = new Set(fromServer.map((p) => p.path));
  const all = [
    ...fromServer.map((p) => place(serverDoc, p, "server")),
    ...local.filter((p) => !seen.has(p.path)).map((p) => place(doc, p, "editor")),
  ];
  const byNode = new Map<string, Placed[]>();
  const edges = new Set<string>();
  for (const p of all) {
    if (p.nodeId) byNode.set(p.nodeId, [...(byNode.get(p.nodeId) ?? []), p]);
    if (p.edge) edges.add(p.edge);
  }
  return { all, byNode, edges };
}
