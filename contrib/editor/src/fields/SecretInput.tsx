// A secret field: masked unless the user asks to see it. When the server
// keeps the stored value, an empty field means "keep it".
// SPDX-License-Identifier: MIT
import { useRef, useState } from "react";
import { useFieldEnv } from "./context";
import type { InputProps } from "./TemplateInput";

interface Props extends InputProps {
  value: string;
  kept: boolean;
  onChange: (v: string) => void;
}

export function SecretInput({
  id,
  label,
  describedBy,
  invalid,
  required,
  value,
  kept,
  onChange,
}: Props) {
  const env = useFieldEnv();
  const [shown, setShown] = useState(false);
  const current = useRef(value);
  current.current = value;
  return (
    <div className="copy-row">
      <input
        id={id}
        type={shown ? "text" : "password"}
        value={value}
        autoComplete="off"
        className="mono"
        spellCheck={false}
        placeholder={kept ? "stored on the server; leave empty to keep" : ""}
        aria-describedby={describedBy}
        aria-invalid={invalid || undefined}
        aria-required={(required && !kept) || undefined}
        onChange={(e) => onChange(e.target.value)}
        onFocus={() =>
          env.setTarget({
            kind: "template",
            label,
            insert: (p) => onChange(`${current.current}{{${p}}}`),
          })
        }
      />
      <button type="button" aria-pressed={shown} onClick={() => setShown(!shown)}>
        {shown ? "Hide" : "Show"}
        <span className="visually-hidden"> {label}</span>
      </button>
    </div>
  );
}
