// One node on the canvas: its title, type and id, an input handle, and
// one output handle per port. Routes show their values; the error port is
// red and square; problems and the run status show as badges.
// SPDX-License-Identifier: MIT
import { Handle, Position, useUpdateNodeInternals, type Node, type NodeProps } from "@xyflow/react";
import { memo, useEffect } from "react";
import type { Port } from "../workflow/ports";

export type RunState = "succeeded" | "failed" | "skipped";

export interface NodeData extends Record<string, unknown> {
  label: string;
  typeTitle: string;
  known: boolean;
  ports: Port[];
  isStart: boolean;
  problems: string[];
  run?: RunState;
  takenPort?: string;
}

export type FlowNode = Node<NodeData, "wf">;

const RUN_TEXT: Record<RunState, string> = {
  succeeded: "✓ ran",
  failed: "✗ failed",
  skipped: "not run",
};

function PortRow({ port, taken }: { port: Port; taken: boolean }) {
  return (
    <div className={`port port-${port.kind}${taken ? " port-taken" : ""}`}>
      <span className="port-label" title={port.label}>
        {port.label}
      </span>
      <Handle
        type="source"
        position={Position.Right}
        id={port.name}
        className={`handle handle-${port.kind}`}
      />
    </div>
  );
}

function WorkflowNodeView({ id, data, selected }: NodeProps<FlowNode>) {
  const update = useUpdateNodeInternals();
  const portKey = data.ports.map((p) => p.name).join("\u0000");
  useEffect(() => update(id), [id, portKey, update]);
  const classes = [
    "wf-node",
    selected ? "selected" : "",
    data.problems.length ? "has-problems" : "",
    data.run ? `run-${data.run}` : "",
    data.known ? "" : "unknown-type",
  ].join(" ");
  return (
    <div className={classes} data-node-id={id}>
      <Handle type="target" position={Position.Left} id="in" className="handle handle-in" />
      <div className="wf-node-head">
        <span className="wf-node-type">
          {data.typeTitle}
          {data.isStart ? " · start" : ""}
        </span>
        {data.problems.length > 0 && (
          <span className="node-badge problem-badge" title={data.problems.join("\n")}>
            {data.problems.length} ⚠
          </span>
        )}
        {data.run && (
          <span className={`node-badge run-badge run-${data.run}`}>{RUN_TEXT[data.run]}</span>
        )}
      </div>
      <div className="wf-node-label">{data.label}</div>
      <div className="wf-node-id">{id}</div>
      <div className="wf-node-ports">
        {data.ports.map((p) => (
          <PortRow key={p.name} port={p} taken={data.takenPort === p.name} />
        ))}
      </div>
    </div>
  );
}

export const WorkflowNode = memo(WorkflowNodeView);
