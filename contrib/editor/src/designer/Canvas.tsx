// The canvas: React Flow drawing the workflow. Moves, wires, deletions
// and drops from the palette become edits of the document; everything
// else (measured sizes, drag positions in flight) stays local.
// SPDX-License-Identifier: MIT
import {
  applyEdgeChanges,
  applyNodeChanges,
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  useNodesInitialized,
  useReactFlow,
  type Connection,
  type Edge,
  type EdgeChange,
  type NodeChange,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent } from "react";
import type { Json } from "../json";
import { positionsOf, type XY } from "../workflow/doc";
import { connect, disconnect, moveNodes, removeNodes } from "../workflow/edit";
import type { ProblemIndex } from "../workflow/problems";
import type { Catalog } from "../workflow/ports";
import { flowEdges, flowNodes, wouldLoop, type TraceView } from "./flowModel";
import { PALETTE_MIME } from "./Palette";
import { WorkflowNode, type FlowNode } from "./WorkflowNode";

const nodeTypes = { wf: WorkflowNode };

interface Props {
  doc: Json;
  catalog: Catalog;
  selected: string | null;
  problems: ProblemIndex;
  trace: TraceView | null;
  onSelect: (id: string | null) => void;
  onEdit: (doc: Json, mergeKey?: string) => void;
  onDropType: (type: string, at: XY) => void;
  /** Changes when the view should fit the nodes again (after a layout). */
  fitSignal: number;
}

/** Keeps React Flow's own fields (measured size, drag) across document updates. */
function useSynced<T extends { id: string }>(base: T[], keep: (prev: T, next: T) => T) {
  const [items, setItems] = useState<T[]>(base);
  useEffect(() => {
    setItems((prev) => {
      const old = new Map(prev.map((p) => [p.id, p]));
      return base.map((b) => (old.has(b.id) ? keep(old.get(b.id)!, b) : b));
    });
  }, [base, keep]);
  return [items, setItems] as const;
}

const keepNode = (prev: FlowNode, next: FlowNode): FlowNode => ({
  ...next,
  measured: prev.measured,
  position: prev.dragging ? prev.position : next.position,
  dragging: prev.dragging,
});
function samePlace(a: XY | undefined, b: XY): boolean {
  return !!a && Math.round(a.x) === Math.round(b.x) && Math.round(a.y) === Math.round(b.y);
}

const keepEdge = (prev: Edge, next: Edge): Edge => ({ ...next, selected: prev.selected });

export function Canvas(props: Props) {
  const { doc, catalog, selected, problems, trace, onSelect, onEdit, onDropType, fitSignal } =
    props;
  const rf = useReactFlow();
  const baseNodes = useMemo(
    () => flowNodes(doc, catalog, selected, problems, trace),
    [doc, catalog, selected, problems, trace],
  );
  const baseEdges = useMemo(
    () => flowEdges(doc, catalog, problems, trace),
    [doc, catalog, problems, trace],
  );
  const [nodes, setNodes] = useSynced(baseNodes, keepNode);
  const [edges, setEdges] = useSynced(baseEdges, keepEdge);
  // fit the view once every node has its size; an empty canvas is left
  // alone, or React Flow would zoom onto the first node dropped
  const initialized = useNodesInitialized();
  const fitted = useRef(baseNodes.length === 0);
  useEffect(() => {
    if (fitted.current || !initialized || nodes.length === 0) return;
    fitted.current = true;
    rf.fitView({ padding: 0.2, maxZoom: 1 });
  }, [initialized, nodes.length, rf]);
  const docRef = useRef(doc);
  docRef.current = doc;

  const onNodesChange = useCallback(
    (changes: NodeChange<FlowNode>[]) => {
      setNodes((ns) => applyNodeChanges(changes, ns));
      // a position without dragging is a finished move (drag end or arrow key)
      const moves: Record<string, XY> = {};
      const stored = positionsOf(docRef.current);
      let chosen: string | null | undefined;
      for (const c of changes) {
        if (
          c.type === "position" &&
          c.position &&
          !c.dragging &&
          !samePlace(stored[c.id], c.position)
        )
          moves[c.id] = c.position;
        if (c.type === "select" && c.selected) chosen = c.id;
        if (c.type === "select" && !c.selected && c.id === selected && chosen === undefined) {
          chosen = null;
        }
      }
      if (chosen !== undefined) onSelect(chosen);
      const ids = Object.keys(moves);
      if (ids.length) onEdit(moveNodes(docRef.current, moves), `move:${ids.join(",")}`);
    },
    [setNodes, onEdit, onSelect, selected],
  );

  useEffect(() => {
    if (!fitSignal) return;
    // after React Flow has taken the new positions
    const t = setTimeout(() => rf.fitView({ padding: 0.2, maxZoom: 1 }), 60);
    return () => clearTimeout(t);
  }, [fitSignal, rf]);

  const onEdgesChange = useCallback(
    (changes: EdgeChange[]) => setEdges((es) => applyEdgeChanges(changes, es)),
    [setEdges],
  );

  const onConnect = useCallback(
    (c: Connection) => {
      if (c.sourceHandle) onEdit(connect(docRef.current, c.source, c.sourceHandle, c.target));
    },
    [onEdit],
  );

  const isValidConnection = useCallback(
    (c: Connection | Edge) => !wouldLoop(docRef.current, c.source, c.target),
    [],
  );

  const onDelete = useCallback(
    ({ nodes: ns, edges: es }: { nodes: FlowNode[]; edges: Edge[] }) => {
      let next: Json = docRef.current;
      for (const e of es) if (e.sourceHandle) next = disconnect(next, e.source, e.sourceHandle);
      if (ns.length)
        next = removeNodes(
          next,
          ns.map((n) => n.id),
        );
      onEdit(next);
      if (ns.some((n) => n.id === selected)) onSelect(null);
    },
    [onEdit, onSelect, selected],
  );

  const onDrop = useCallback(
    (e: DragEvent) => {
      const type = e.dataTransfer.getData(PALETTE_MIME);
      if (!type) return;
      e.preventDefault();
      const at = rf.screenToFlowPosition({ x: e.clientX, y: e.clientY });
      onDropType(type, { x: at.x - 110, y: at.y - 30 });
    },
    [rf, onDropType],
  );

  return (
    <div
      className="canvas"
      onDrop={onDrop}
      onDragOver={(e) => {
        e.preventDefault();
        e.dataTransfer.dropEffect = "copy";
      }}
    >
      <ReactFlow<FlowNode, Edge>
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        onDelete={onDelete}
        isValidConnection={isValidConnection}
        onPaneClick={() => onSelect(null)}
        deleteKeyCode={["Delete", "Backspace"]}
        minZoom={0.2}
        maxZoom={2}
        proOptions={{ hideAttribution: true }}
        aria-label="Workflow canvas"
      >
        <Background gap={20} />
        <Controls aria-label="Zoom and fit" />
        <MiniMap
          pannable
          zoomable
          ariaLabel="Overview of the workflow"
          nodeColor="#cbd5e1"
          nodeStrokeColor="#475569"
          nodeStrokeWidth={2}
        />
      </ReactFlow>
    </div>
  );
}
