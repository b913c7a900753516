// Turns the workflow document, its problems and a run's trace into the
// nodes and edges React Flow draws.
// SPDX-License-Identifier: MIT
import { MarkerType, type Edge } from "@xyflow/react";
import type { TraceEntry } from "../api/client";
import type { Json } from "../json";
import { connectionsOf, nodesOf, positionsOf, startNodes } from "../workflow/doc";
import { edgeKey, type ProblemIndex } from "../workflow/problems";
import { drawnPorts, type Catalog, type PortKind } from "../workflow/ports";
import type { FlowNode, RunState } from "./WorkflowNode";

/** A run shown on the canvas: a test run or a stored execution. */
export interface TraceView {
  title: string;
  status: string;
  error: string | null;
  entries: TraceEntry[];
  executionId?: number;
}

function runOf(trace: TraceView | null, id: string): { run?: RunState; port?: string } {
  if (!trace) return {};
  const e = trace.entries.find((t) => t.id === id);
  if (!e) return { run: "skipped" };
  return { run: e.error ? "failed" : "succeeded", port: e.port };
}

export function flowNodes(
  doc: Json,
  catalog: Catalog,
  selected: string | null,
  problems: ProblemIndex,
  trace: TraceView | null,
): FlowNode[] {
  const wires = connectionsOf(doc);
  const pos = positionsOf(doc);
  const starts = startNodes(doc);
  return nodesOf(doc).map((n, i) => {
    const type = catalog.get(n.type);
    const label = n.label ?? type?.title ?? n.type;
    const issues = (problems.byNode.get(n.id) ?? []).map((p) => p.message);
    const { run, port } = runOf(trace, n.id);
    const status = [issues.length ? `${issues.length} problems` : "", run ? `run ${run}` : ""]
      .filter(Boolean)
      .join(", ");
    return {
      id: n.id,
      type: "wf",
      position: pos[n.id] ?? { x: 40 + i * 40, y: 40 + i * 40 },
      selected: n.id === selected,
      ariaLabel:
        `${label}, ${type?.title ?? `unknown type ${n.type}`} node ${n.id}` +
        (status ? `, ${status}` : ""),
      data: {
        label,
        typeTitle: type?.title ?? `${n.type || "?"} (unknown)`,
        known: !!type,
        ports: drawnPorts(n, catalog, wires),
        isStart: starts.length === 1 && starts[0] === n.id,
        problems: issues,
        run,
        takenPort: port,
      },
    };
  });
}

const KIND_CLASS: Record<PortKind, string> = {
  error: "edge-error",
  default: "edge-default",
  route: "edge-route",
  next: "edge-next",
  missing: "edge-problem",
};

export function flowEdges(
  doc: Json,
  catalog: Catalog,
  problems: ProblemIndex,
  trace: TraceView | null,
): Edge[] {
  const nodes = new Map(nodesOf(doc).map((n) => [n.id, n]));
  const wires = connectionsOf(doc);
  return wires
    .filter((w) => nodes.has(w.from) && nodes.has(w.to))
    .map((w) => {
      const port = drawnPorts(nodes.get(w.from)!, catalog, wires).find((p) => p.name === w.port);
      const key = edgeKey(w.from, w.port);
      const taken = trace?.entries.some((t) => t.id === w.from && t.port === w.port) ?? false;
      const classes = [
        KIND_CLASS[port?.kind ?? "next"],
        problems.edges.has(key) ? "edge-problem" : "",
        taken ? "edge-taken" : "",
      ].join(" ");
      return {
        id: key,
        source: w.from,
        sourceHandle: w.port,
        target: w.to,
        targetHandle: "in",
        className: classes,
        animated: taken,
        ariaLabel: `Connection from ${w.from} port ${w.port} to ${w.to}`,
        markerEnd: { type: MarkerType.ArrowClosed },
      };
    });
}

/** True when `to` already leads to `from`, so from → to would close a loop. */
export function wouldLoop(doc: Json, from: string, to: string): boolean {
  if (from === to) return true;
  const next = new Map<string, string[]>();
  for (const w of connectionsOf(doc)) next.set(w.from, [...(next.get(w.from) ?? []), w.to]);
  const stack = [to];
  const seen = new Set<string>();
  while (stack.length) {
    const id = stack.pop()!;
    if (id === from) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(next.get(id) ?? []));
  }
  return false;
}
