// The palette: one entry per node type from GET /node-types, custom ones
// included. Drag an entry onto the canvas, or press it to add the node in
// the middle of the view.
// SPDX-License-Identifier: MIT
import type { NodeType } from "../api/client";

export const PALETTE_MIME = "application/x-moonwire-node-type";

interface Props {
  types: NodeType[];
  error: string | null;
  onAdd: (type: string) => void;
}

export function Palette({ types, error, onAdd }: Props) {
  return (
    <section className="palette" aria-labelledby="palette-title">
      <h2 id="palette-title" className="panel-title">
        Nodes
      </h2>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      <ul className="palette-list">
        {types.map((t) => (
          <li key={t.type}>
            <button
              type="button"
              className={`palette-item palette-${t.type}`}
              draggable
              data-node-type={t.type}
              title={t.description}
              onDragStart={(e) => {
                e.dataTransfer.setData(PALETTE_MIME, t.type);
                e.dataTransfer.effectAllowed = "copy";
              }}
              onClick={() => onAdd(t.type)}
            >
              <span className="palette-title">{t.title}</span>
              {!t.builtin && <span className="palette-custom">custom</span>}
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
