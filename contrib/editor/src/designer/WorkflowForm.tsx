// The side panel when no node is selected: the workflow's name and
// description, and how to get started.
// SPDX-License-Identifier: MIT
import type { Json } from "../json";
import { isObject } from "../json";
import { nodesOf, startNodes } from "../workflow/doc";
import { setTopField } from "../workflow/edit";

const GETTING_STARTED =
  "Drag a node from the palette onto the canvas, or press one to add it. " +
  "Wire a node's ports on the right to the next node's input on the left.";

interface Props {
  doc: Json;
  onEdit: (doc: Json, mergeKey?: string) => void;
}

export function WorkflowForm({ doc, onEdit }: Props) {
  const d = isObject(doc) ? doc : {};
  const nodes = nodesOf(doc);
  const starts = startNodes(doc);
  return (
    <form
      className="node-form"
      aria-labelledby="wf-form-title"
      onSubmit={(e) => e.preventDefault()}
    >
      <h2 id="wf-form-title" className="panel-title">
        Workflow
      </h2>
      <div className="field">
        <label htmlFor="wf-name">Name</label>
        <input
          id="wf-name"
          value={typeof d.name === "string" ? d.name : ""}
          onChange={(e) => onEdit(setTopField(doc, "name", e.target.value), "wf-name")}
        />
      </div>
      <div className="field">
        <label htmlFor="wf-description">Description</label>
        <textarea
          id="wf-description"
          rows={3}
          value={typeof d.description === "string" ? d.description : ""}
          onChange={(e) =>
            onEdit(setTopField(doc, "description", e.target.value), "wf-description")
          }
        />
      </div>
      <p className="hint">
        {nodes.length === 0
          ? GETTING_STARTED
          : `${nodes.length} node${nodes.length === 1 ? "" : "s"}${
              starts.length === 1 ? `; the run starts at ${starts[0]}` : ""
            }. Select a node to edit it.`}
      </p>
    </form>
  );
}
