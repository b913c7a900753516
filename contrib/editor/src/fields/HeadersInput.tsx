// HTTP headers as rows of name and value (values may be templates). A
// headers field holding a string (a template that builds the object) is
// edited as a template instead.
// SPDX-License-Identifier: MIT
import { useEffect, useState } from "react";
import { isObject, sameJson, type Json, type JsonObject } from "../json";
import { TemplateInput, type InputProps } from "./TemplateInput";

interface Row {
  name: string;
  value: string;
}

interface Props extends InputProps {
  value: Json | undefined;
  onChange: (v: Json | undefined) => void;
}

function rowsOf(v: Json | undefined): Row[] {
  if (!isObject(v)) return [];
  return Object.entries(v).map(([name, value]) => ({
    name,
    value: typeof value === "string" ? value : String(value),
  }));
}

function objectOf(rows: Row[]): JsonObject | undefined {
  const named = rows.filter((r) => r.name.trim() !== "");
  if (named.length === 0) return undefined;
  return Object.fromEntries(named.map((r) => [r.name.trim(), r.value]));
}

export function HeadersInput(props: Props) {
  const { id, label, value, onChange } = props;
  const [rows, setRows] = useState<Row[]>(() => rowsOf(value));

  useEffect(() => {
    if (!sameJson(objectOf(rows), value)) setRows(rowsOf(value));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);

  if (typeof value === "string") {
    return (
      <TemplateInput
        {...props}
        value={value}
        multiline
        onChange={(v) => onChange(v === "" ? undefined : v)}
      />
    );
  }

  function update(next: Row[]) {
    setRows(next);
    onChange(objectOf(next));
  }

  return (
    <div
      className="kv"
      role="group"
      aria-labelledby={`${id}-label`}
      id={id}
      tabIndex={-1}
      aria-describedby={props.describedBy}
    >
      {rows.map((r, i) => (
        <div className="kv-row" key={i}>
          <input
            className="mono"
            value={r.name}
            aria-label={`${label}: name of header ${i + 1}`}
            spellCheck={false}
            onChange={(e) =>
              update(rows.map((x, j) => (j === i ? { ...x, name: e.target.value } : x)))
            }
          />
          <TemplateInput
            id={`${id}-v${i}`}
            label={`${label}: ${r.name || `header ${i + 1}`}`}
            ariaLabel={`${label}: value of header ${r.name || i + 1}`}
            value={r.value}
            onChange={(v) => update(rows.map((x, j) => (j === i ? { ...x, value: v } : x)))}
          />
          <button
            type="button"
            className="icon-button"
            onClick={() => update(rows.filter((_, j) => j !== i))}
            aria-label={`Remove header ${r.name || i + 1}`}
          >
            ×
          </button>
        </div>
      ))}
      <button type="button" onClick={() => setRows([...rows, { name: "", value: "" }])}>
        Add header
      </button>
    </div>
  );
}
