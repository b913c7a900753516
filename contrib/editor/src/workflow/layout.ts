// Automatic layout: places the nodes left to right along their
// connections (dagre), for generated and imported workflows and on demand.
// SPDX-License-Identifier: MIT
import dagre from "@dagrejs/dagre";
import type { Json } from "../json";
import { connectionsOf, nodesOf, type XY } from "./doc";
import { portsOf, type Catalog } from "./ports";

export const NODE_WIDTH = 220;

/** The height a node is drawn at: a header and one row per port. */
export function nodeHeight(portCount: number): number {
  return 58 + Math.max(1, portCount) * 24;
}

export function autoLayout(doc: Json, catalog: Catalog): Record<string, XY> {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 40, ranksep: 80, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  const wires = connectionsOf(doc);
  const nodes = nodesOf(doc);
  for (const n of nodes) {
    const height = nodeHeight(portsOf(n, catalog, wires).length);
    g.setNode(n.id, { width: NODE_WIDTH, height });
  }
  for (const w of wires) {
    if (g.hasNode(w.from) && g.hasNode(w.to)) g.setEdge(w.from, w.to);
  }
  dagre.layout(g);
  const out: Record<string, XY> = {};
  for (const n of nodes) {
    const p = g.node(n.id);
    // dagre gives centres; the canvas places nodes by their top-left corner
    out[n.id] = { x: p.x - p.width / 2, y: p.y - p.height / 2 };
  }
  return out;
}
