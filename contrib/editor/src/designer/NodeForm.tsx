// The side panel's form for the selected node: id and label, the config
// fields its type's schema lists, and its outgoing connections (a way to
// wire ports from the keyboard).
// SPDX-License-Identifier: MIT
import { useEffect, useState } from "react";
import type { NodeType } from "../api/client";
import { fieldDomId } from "../fields/context";
import { FieldView } from "../fields/FieldView";
import { JsonInput } from "../fields/JsonInput";
import { isObject, type Json } from "../json";
import { connectionsOf, nodesOf, NODE_ID, type WfNode } from "../workflow/doc";
import { connect, disconnect, renameNode, renamePort, setField, setLabel } from "../workflow/edit";
import { portsOf, type Catalog } from "../workflow/ports";
import type { Placed } from "../workflow/problems";
import { wouldLoop } from "./flowModel";

interface Props {
  doc: Json;
  node: WfNode;
  catalog: Catalog;
  problems: Placed[];
  kept: Set<string>;
  onEdit: (doc: Json, mergeKey?: string) => void;
  onRenamed: (id: string) => void;
  onDelete: () => void;
}

/** Sets a field; when a route's port is renamed, its wire follows. */
function editField(
  doc: Json,
  node: WfNode,
  catalog: Catalog,
  field: string,
  value: Json | undefined,
): Json {
  const before = portsOf(node, catalog).map((p) => p.name);
  let next: Json = setField(doc, node.id, field, value);
  const edited = nodesOf(next).find((n) => n.id === node.id);
  const after = edited ? portsOf(edited, catalog).map((p) => p.name) : before;
  if (before.length === after.length) {
    const changed = before.filter((p, i) => after[i] !== p);
    if (changed.length === 1) {
      const i = before.indexOf(changed[0]);
      next = renamePort(next, node.id, before[i], after[i]);
    }
  }
  return next;
}

export function NodeForm({
  doc,
  node,
  catalog,
  problems,
  kept,
  onEdit,
  onRenamed,
  onDelete,
}: Props) {
  const type = catalog.get(node.type);
  const general = problems.filter((p) => !p.field || p.field.startsWith("$"));
  return (
    <form
      className="node-form"
      aria-labelledby="node-form-title"
      onSubmit={(e) => e.preventDefault()}
    >
      <div className="panel-head">
        <h2 id="node-form-title" className="panel-title">
          {type?.title ?? node.type} node
        </h2>
        <button type="button" className="danger-quiet" onClick={onDelete}>
          Delete node
        </button>
      </div>
      {type?.description && <p className="hint">{type.description}</p>}
      {general.length > 0 && (
        <ul className="problem-notes" aria-label="Problems with this node">
          {general.map((p, i) => (
            <li key={i} className="field-error">
              {p.message}
            </li>
          ))}
        </ul>
      )}
      <IdField doc={doc} node={node} onEdit={onEdit} onRenamed={onRenamed} />
      <div className="field">
        <label htmlFor={fieldDomId(node.id, "$label")}>Label</label>
        <input
          id={fieldDomId(node.id, "$label")}
          value={node.label ?? ""}
          onChange={(e) => onEdit(setLabel(doc, node.id, e.target.value), `label:${node.id}`)}
        />
      </div>
      {type ? (
        <ConfigFields
          doc={doc}
          node={node}
          type={type}
          catalog={catalog}
          problems={problems}
          kept={kept}
          onEdit={onEdit}
        />
      ) : (
        <UnknownConfig doc={doc} node={node} onEdit={onEdit} />
      )}
      <Wiring doc={doc} node={node} catalog={catalog} onEdit={onEdit} />
    </form>
  );
}

function ConfigFields({
  doc,
  node,
  type,
  catalog,
  problems,
  kept,
  onEdit,
}: {
  doc: Json;
  node: WfNode;
  type: NodeType;
  catalog: Catalog;
  problems: Placed[];
  kept: Set<string>;
  onEdit: Props["onEdit"];
}) {
  return (
    <fieldset className="config-fields">
      <legend>Settings</legend>
      {type.schema.map((spec) => (
        <FieldView
          key={`${node.id}:${spec.name}`}
          spec={spec}
          value={node.config[spec.name]}
          nodeId={node.id}
          steps={[spec.name]}
          kept={kept.has(spec.name)}
          problems={problems.filter((p) => p.field === spec.name)}
          onChange={(v) =>
            onEdit(editField(doc, node, catalog, spec.name, v), `field:${node.id}:${spec.name}`)
          }
        />
      ))}
    </fieldset>
  );
}

function UnknownConfig({
  doc,
  node,
  onEdit,
}: {
  doc: Json;
  node: WfNode;
  onEdit: Props["onEdit"];
}) {
  const id = fieldDomId(node.id, "$config");
  return (
    <div className="field">
      <label htmlFor={id}>Config (JSON)</label>
      <JsonInput
        id={id}
        label="Config"
        multiline
        value={node.config}
        onChange={(v) => {
          const config = isObject(v) ? v : {};
          let next: Json = doc;
          for (const k of Object.keys(node.config)) next = setField(next, node.id, k, undefined);
          for (const [k, x] of Object.entries(config)) next = setField(next, node.id, k, x);
          onEdit(next, `config:${node.id}`);
        }}
      />
      <span className="hint">
        The type "{node.type}" is not installed, so its settings are shown as JSON.
      </span>
    </div>
  );
}

function IdField({
  doc,
  node,
  onEdit,
  onRenamed,
}: {
  doc: Json;
  node: WfNode;
  onEdit: Props["onEdit"];
  onRenamed: (id: string) => void;
}) {
  const [draft, setDraft] = useState(node.id);
  useEffect(() => setDraft(node.id), [node.id]);
  const taken = draft !== node.id && nodesOf(doc).some((n) => n.id === draft);
  const error = !NODE_ID.test(draft)
    ? "Use letters, digits, _ and - only."
    : taken
      ? `Another node is called "${draft}".`
      : null;
  const id = fieldDomId(node.id, "$id");
  function commit() {
    if (error || draft === node.id) return;
    onEdit(renameNode(doc, node.id, draft));
    onRenamed(draft);
  }
  return (
    <div className={`field${error ? " field-invalid" : ""}`}>
      <label htmlFor={id}>Id</label>
      <input
        id={id}
        className="mono"
        value={draft}
        spellCheck={false}
        aria-invalid={error ? true : undefined}
        aria-describedby={`${id}-hint`}
        onChange={(e) => setDraft(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === "Enter") {
            e.preventDefault();
            commit();
          }
        }}
      />
      <span id={`${id}-hint`} className={error ? "field-error" : "hint"}>
        {error ?? "Connections and traces name the node by its id."}
      </span>
    </div>
  );
}

function Wiring({
  doc,
  node,
  catalog,
  onEdit,
}: {
  doc: Json;
  node: WfNode;
  catalog: Catalog;
  onEdit: Props["onEdit"];
}) {
  const wires = connectionsOf(doc);
  const others = nodesOf(doc).filter((n) => n.id !== node.id);
  const ports = portsOf(node, catalog, wires);
  if (ports.length === 0) return null;
  return (
    <fieldset className="wiring">
      <legend>Connections</legend>
      {ports.map((p) => {
        const to = wires.find((w) => w.from === node.id && w.port === p.name)?.to ?? "";
        const id = fieldDomId(node.id, "$port", p.name);
        return (
          <div className={`field wire-field port-${p.kind}`} key={p.name}>
            <label htmlFor={id}>{p.kind === "error" ? "On error" : `Port ${p.label}`}</label>
            <select
              id={id}
              value={to}
              onChange={(e) =>
                onEdit(
                  e.target.value
                    ? connect(doc, node.id, p.name, e.target.value)
                    : disconnect(doc, node.id, p.name),
                )
              }
            >
              <option value="">Not connected</option>
              {others.map((n) => (
                <option
                  key={n.id}
                  value={n.id}
                  disabled={n.id !== to && wouldLoop(doc, node.id, n.id)}
                >
                  {n.label ? `${n.label} (${n.id})` : n.id}
                </option>
              ))}
            </select>
          </div>
        );
      })}
    </fieldset>
  );
}
