// The inspector's Node tab: the selected node's form, with what it did in
// the run shown on the canvas above it; the workflow's own form when no
// node is selected.
// SPDX-License-Identifier: MIT
import type { Json } from "../json";
import type { WfNode } from "../workflow/doc";
import { removeNodes } from "../workflow/edit";
import type { Catalog } from "../workflow/ports";
import type { ProblemIndex } from "../workflow/problems";
import type { TraceView } from "./flowModel";
import { NodeForm } from "./NodeForm";
import { RunDetails } from "./RunDetails";
import { WorkflowForm } from "./WorkflowForm";

interface Props {
  doc: Json;
  node: WfNode | undefined;
  catalog: Catalog;
  problems: ProblemIndex;
  kept: Map<string, Set<string>>;
  trace: TraceView | null;
  onEdit: (doc: Json, mergeKey?: string) => void;
  onSelect: (id: string) => void;
}

export function NodeTab({ doc, node, catalog, problems, kept, trace, onEdit, onSelect }: Props) {
  if (!node) return <WorkflowForm doc={doc} onEdit={onEdit} />;
  const entry = trace?.entries.find((e) => e.id === node.id);
  return (
    <>
      {trace && entry && (
        <section className="run-section" aria-label={`${node.id} in ${trace.title}`}>
          <h3>In {trace.title}</h3>
          <RunDetails entry={entry} />
        </section>
      )}
      <NodeForm
        key={node.id}
        doc={doc}
        node={node}
        catalog={catalog}
        problems={problems.byNode.get(node.id) ?? []}
        kept={kept.get(node.id) ?? new Set()}
        onEdit={onEdit}
        onRenamed={onSelect}
        onDelete={() => onEdit(removeNodes(doc, [node.id]))}
      />
    </>
  );
}
