// One config field, drawn from its schema entry: the label (marked when
// required), the control for its kind, the description and the problems
// found with it.
// SPDX-License-Identifier: MIT
import type { FieldSpec } from "../api/client";
import type { Json } from "../json";
import type { Placed } from "../workflow/problems";
import { ArrayInput } from "./ArrayInput";
import { fieldDomId } from "./context";
import { HeadersInput } from "./HeadersInput";
import { JsonInput } from "./JsonInput";
import { PathInput } from "./PathInput";
import { SecretInput } from "./SecretInput";
import { TemplateInput, type InputProps } from "./TemplateInput";

export interface FieldViewProps {
  spec: FieldSpec;
  value: Json | undefined;
  onChange: (v: Json | undefined) => void;
  nodeId: string;
  /** Steps from the node's config to this field: ["routes", 0, "port"]. */
  steps: (string | number)[];
  /** Problems at or under this field, `rest` relative to it. */
  problems: Placed[];
  /** A secret the server keeps from the saved version. */
  kept?: boolean;
}

/** Template modes whose text is one line (a URL, a client id). */
const SINGLE_LINE_MODES = ["text", "url"];

export function titleOf(spec: FieldSpec): string {
  if (spec.title) return spec.title;
  const words = spec.name.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function text(v: Json | undefined): string {
  return typeof v === "string" ? v : "";
}

function Control(props: FieldViewProps & { input: InputProps }) {
  const { spec, value, onChange, input, kept } = props;
  const setText = (v: string) => onChange(v === "" ? undefined : v);
  switch (spec.kind) {
    case "template":
      if (spec.secret)
        return <SecretInput {...input} value={text(value)} kept={!!kept} onChange={setText} />;
      return (
        <TemplateInput
          {...input}
          value={text(value)}
          onChange={setText}
          multiline={!SINGLE_LINE_MODES.includes(spec.mode ?? "")}
        />
      );
    case "body":
      if (value !== undefined && typeof value !== "string") {
        return <JsonInput {...input} value={value} onChange={onChange} multiline />;
      }
      return <TemplateInput {...input} value={text(value)} onChange={setText} multiline />;
    case "path":
      return <PathInput {...input} value={text(value)} onChange={setText} />;
    case "enum":
      return <EnumSelect {...props} input={input} />;
    case "boolean":
      return (
        <input
          {...checkboxProps(input)}
          type="checkbox"
          checked={value === undefined ? spec.default === true : value === true}
          onChange={(e) => onChange(e.target.checked)}
        />
      );
    case "integer":
    case "number":
      return (
        <input
          {...inputProps(input)}
          type="number"
          min={spec.min}
          max={spec.max}
          step={spec.kind === "integer" ? 1 : "any"}
          placeholder={placeholder(spec)}
          value={typeof value === "number" ? value : ""}
          onChange={(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))}
        />
      );
    case "headers":
      return <HeadersInput {...input} value={value} onChange={onChange} />;
    case "array":
      if (Array.isArray(spec.items)) return <ArrayInput {...props} itemFields={spec.items} />;
      return <JsonInput {...input} value={value} onChange={onChange} />;
    case "object":
      return <JsonInput {...input} value={value} onChange={onChange} multiline />;
    case "json":
      return <JsonInput {...input} value={value} onChange={onChange} loose />;
    default:
      if (spec.secret)
        return <SecretInput {...input} value={text(value)} kept={!!kept} onChange={setText} />;
      return (
        <input
          {...inputProps(input)}
          className="mono"
          value={text(value)}
          spellCheck={false}
          placeholder={placeholder(spec)}
          onChange={(e) => setText(e.target.value)}
        />
      );
  }
}

function placeholder(spec: FieldSpec): string | undefined {
  return spec.default === undefined ? undefined : `default: ${String(spec.default)}`;
}

function inputProps(p: InputProps) {
  return {
    id: p.id,
    "aria-describedby": p.describedBy,
    "aria-invalid": p.invalid || undefined,
    "aria-required": p.required || undefined,
    "aria-label": p.ariaLabel,
  };
}

function checkboxProps(p: InputProps) {
  return { id: p.id, "aria-describedby": p.describedBy, "aria-label": p.ariaLabel };
}

function EnumSelect({ spec, value, onChange, input }: FieldViewProps & { input: InputProps }) {
  const options = (spec.enum ?? []).map(String);
  const shown =
    value === undefined ? (spec.default === undefined ? "" : String(spec.default)) : String(value);
  return (
    <select
      {...inputProps(input)}
      value={shown}
      onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)}
    >
      {spec.default === undefined && (
        <option value="">{spec.required ? "Choose…" : "(none)"}</option>
      )}
      {value !== undefined && !options.includes(shown) && (
        <option value={shown}>{shown} (not allowed)</option>
      )}
      {options.map((o) => (
        <option key={o} value={o}>
          {o}
          {o === String(spec.default) ? " (default)" : ""}
        </option>
      ))}
    </select>
  );
}

export function FieldView(props: FieldViewProps) {
  const { spec, nodeId, steps, problems } = props;
  const id = fieldDomId(nodeId, ...steps);
  const own =
    spec.kind === "array" && Array.isArray(spec.items)
      ? problems.filter((p) => p.rest.length === 0)
      : problems;
  const hintId = spec.description ? `${id}-hint` : undefined;
  const errId = own.length ? `${id}-error` : undefined;
  const input: InputProps = {
    id,
    label: titleOf(spec),
    describedBy: [errId, hintId].filter(Boolean).join(" ") || undefined,
    invalid: own.length > 0,
    required: spec.required,
  };
  const isGroup =
    (spec.kind === "array" && Array.isArray(spec.items)) ||
    (spec.kind === "headers" && typeof props.value !== "string");
  const Label = isGroup ? "span" : "label";
  return (
    <div
      className={`field field-${spec.kind}${own.length ? " field-invalid" : ""}`}
      data-field={steps.join(".")}
    >
      <Label id={`${id}-label`} className="field-label" htmlFor={isGroup ? undefined : id}>
        {titleOf(spec)}
        {spec.required && (
          <span className="required" aria-hidden="true">
            {" "}
            *
          </span>
        )}
        {spec.required && <span className="visually-hidden"> (required)</span>}
        {spec.secret && <span className="secret-tag"> secret</span>}
      </Label>
      <Control {...props} input={input} />
      {errId && (
        <span id={errId} className="field-error">
          {own.map((p) => p.message).join(" ")}
        </span>
      )}
      {hintId && (
        <span id={hintId} className="hint">
          {spec.description}
        </span>
      )}
    </div>
  );
}
