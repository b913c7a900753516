// A variable path field (source, external_id): a combobox that suggests
// the variables known at the node.
// SPDX-License-Identifier: MIT
import { useRef, useState, type KeyboardEvent } from "react";
import type { Variable } from "../api/client";
import { matchVariables, useFieldEnv } from "./context";
import { optionId, suggestionKey, Suggestions } from "./Suggestions";
import type { InputProps } from "./TemplateInput";

interface Props extends InputProps {
  value: string;
  onChange: (v: string) => void;
}

export function PathInput({ id, label, describedBy, invalid, required, value, onChange }: Props) {
  const env = useFieldEnv();
  const input = useRef<HTMLInputElement>(null);
  const [showing, setShowing] = useState(false);
  const [active, setActive] = useState(0);
  const options = showing ? matchVariables(env.variables, value) : [];
  const open = options.length > 0;
  const listId = `${id}-suggestions`;

  function pick(v: Variable) {
    onChange(v.path);
    setShowing(false);
  }

  function onKeyDown(e: KeyboardEvent<HTMLInputElement>) {
    if (!open) {
      if (e.key === "ArrowDown") {
        setShowing(true);
        e.preventDefault();
      }
      return;
    }
    const k = suggestionKey(e.key, active, options.length);
    if (k === null) return;
    e.preventDefault();
    e.stopPropagation();
    if (k === "pick") pick(options[active]);
    else if (k === "close") setShowing(false);
    else setActive(k);
  }

  return (
    <div className="combo">
      <input
        ref={input}
        id={id}
        className="mono"
        value={value}
        role="combobox"
        autoComplete="off"
        spellCheck={false}
        aria-expanded={open}
        aria-controls={listId}
        aria-autocomplete="list"
        aria-activedescendant={open ? optionId(listId, active) : undefined}
        aria-describedby={describedBy}
        aria-invalid={invalid || undefined}
        aria-required={required || undefined}
        onChange={(e) => {
          onChange(e.target.value);
          setShowing(true);
          setActive(0);
        }}
        onKeyDown={onKeyDown}
        onBlur={() => setShowing(false)}
        onFocus={() =>
          env.setTarget({
            kind: "path",
            label,
            insert: (p) => {
              onChange(p);
              input.current?.focus();
            },
          })
        }
      />
      {open ? (
        <Suggestions id={listId} options={options} active={active} onPick={pick} />
      ) : (
        <ul id={listId} role="listbox" aria-label="Variables" hidden />
      )}
    </div>
  );
}
