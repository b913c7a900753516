// An array of objects (flow control's routes): one group of sub-fields
// per item, with buttons to add, remove and reorder items.
// SPDX-License-Identifier: MIT
import type { FieldSpec } from "../api/client";
import { isObject, type Json, type JsonObject } from "../json";
import { fieldDomId } from "./context";
import { FieldView, titleOf, type FieldViewProps } from "./FieldView";

function singular(title: string): string {
  return title.endsWith("s") ? title.slice(0, -1) : `${title} item`;
}

export function ArrayInput(props: FieldViewProps & { itemFields: FieldSpec[] }) {
  const { spec, value, onChange, nodeId, steps, problems, itemFields } = props;
  const items = Array.isArray(value) ? value : [];
  const noun = singular(titleOf(spec));
  const set = (next: Json[]) => onChange(next);
  const move = (i: number, by: number) => {
    const next = [...items];
    [next[i], next[i + by]] = [next[i + by], next[i]];
    set(next);
  };

  return (
    <div
      className="array-items"
      role="group"
      aria-labelledby={`${fieldDomId(nodeId, ...steps)}-label`}
    >
      {items.map((item, i) => {
        const obj: JsonObject = isObject(item) ? item : {};
        const mine = problems.filter((p) => p.rest[0] === i);
        const whole = mine.filter((p) => p.rest.length === 1);
        return (
          <fieldset key={i} className={`array-item${whole.length ? " field-invalid" : ""}`}>
            <legend>
              {noun} {i + 1}
            </legend>
            {itemFields.map((f) => (
              <FieldView
                key={f.name}
                spec={f}
                value={obj[f.name]}
                nodeId={nodeId}
                steps={[...steps, i, f.name]}
                problems={mine
                  .filter((p) => p.rest[1] === f.name)
                  .map((p) => ({ ...p, rest: p.rest.slice(2) }))}
                onChange={(v) => {
                  const nextItem = { ...obj };
                  if (v === undefined) delete nextItem[f.name];
                  else nextItem[f.name] = v;
                  set(items.map((x, j) => (j === i ? nextItem : x)));
                }}
              />
            ))}
            {whole.length > 0 && (
              <span className="field-error" role="note">
                {whole.map((p) => p.message).join(" ")}
              </span>
            )}
            <div className="array-item-actions">
              <button type="button" disabled={i === 0} onClick={() => move(i, -1)}>
                Move up
                <span className="visually-hidden">
                  {" "}
                  {noun} {i + 1}
                </span>
              </button>
              <button type="button" disabled={i === items.length - 1} onClick={() => move(i, 1)}>
                Move down
                <span className="visually-hidden">
                  {" "}
                  {noun} {i + 1}
                </span>
              </button>
              <button
                type="button"
                className="danger-quiet"
                onClick={() => set(items.filter((_, j) => j !== i))}
              >
                Remove
                <span className="visually-hidden">
                  {" "}
                  {noun} {i + 1}
                </span>
              </button>
            </div>
          </fieldset>
        );
      })}
      <button type="button" onClick={() => set([...items, {}])}>
        Add {noun.toLowerCase()}
      </button>
    </div>
  );
}
