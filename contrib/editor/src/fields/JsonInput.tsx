// A field holding any JSON value, edited as text. In loose mode (route
// values) text that is not JSON counts as a string, so `new` needs no
// quotes; strings that would read as something else are shown quoted.
// SPDX-License-Identifier: MIT
import { useEffect, useState } from "react";
import { describeParseError, parseJson, sameJson, toJson, type Json } from "../json";
import type { InputProps } from "./TemplateInput";

interface Props extends InputProps {
  value: Json | undefined;
  onChange: (v: Json | undefined) => void;
  loose?: boolean;
  multiline?: boolean;
}

function show(v: Json | undefined, loose: boolean, multiline: boolean): string {
  if (v === undefined) return "";
  if (loose && typeof v === "string") {
    try {
      parseJson(v);
      return JSON.stringify(v);
    } catch {
      return v;
    }
  }
  return toJson(v, multiline ? 2 : 0);
}

function read(text: string, loose: boolean): { value?: Json; error?: string } {
  if (text.trim() === "") return {};
  try {
    return { value: parseJson(text) };
  } catch (e) {
    return loose ? { value: text } : { error: `Not valid JSON: ${describeParseError(text, e)}` };
  }
}

export function JsonInput({
  id,
  describedBy,
  invalid,
  required,
  value,
  onChange,
  loose = false,
  multiline = false,
}: Props) {
  const [text, setText] = useState(() => show(value, loose, multiline));
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    // follow outside changes (undo, code view) but not our own edits
    const mine = read(text, loose);
    if (mine.error || !sameJson(mine.value, value)) {
      setText(show(value, loose, multiline));
      setError(null);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);

  function change(t: string) {
    setText(t);
    const r = read(t, loose);
    setError(r.error ?? null);
    if (!r.error) onChange(r.value);
  }

  const errId = `${id}-json-error`;
  const props = {
    id,
    value: text,
    spellCheck: false,
    className: "mono",
    "aria-describedby": [describedBy, error ? errId : ""].filter(Boolean).join(" ") || undefined,
    "aria-invalid": invalid || !!error || undefined,
    "aria-required": required || undefined,
  };
  return (
    <>
      {multiline ? (
        <textarea {...props} rows={5} onChange={(e) => change(e.target.value)} />
      ) : (
        <input {...props} onChange={(e) => change(e.target.value)} />
      )}
      {error && (
        <span id={errId} className="field-error">
          {error}
        </span>
      )}
    </>
  );
}
