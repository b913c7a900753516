// A template field: a textarea over a highlighted copy of its text, with
// variable suggestions while a {{ is open. It registers itself with the
// parameters panel when focused, so a click there inserts at the caret.
// SPDX-License-Identifier: MIT
import { useMemo, useRef, useState, type KeyboardEvent } from "react";
import type { Variable } from "../api/client";
import { tokenize, typedVariable } from "../workflow/template";
import { matchVariables, useFieldEnv } from "./context";
import { optionId, suggestionKey, Suggestions } from "./Suggestions";

export interface InputProps {
  id: string;
  label: string;
  /** Names the control when no <label> points at it. */
  ariaLabel?: string;
  describedBy?: string;
  invalid?: boolean;
  required?: boolean;
}

interface Props extends InputProps {
  value: string;
  onChange: (v: string) => void;
  multiline?: boolean;
}

export function TemplateInput({
  id,
  label,
  ariaLabel,
  describedBy,
  invalid,
  required,
  value,
  onChange,
  multiline,
}: Props) {
  const env = useFieldEnv();
  const area = useRef<HTMLTextAreaElement>(null);
  const pre = useRef<HTMLPreElement>(null);
  const caret = useRef({ start: value.length, end: value.length });
  // the parameters panel calls insert later, after more typing
  const current = useRef(value);
  current.current = value;
  const [typed, setTyped] = useState<{ start: number; prefix: string } | null>(null);
  const [active, setActive] = useState(0);
  const tokens = useMemo(() => tokenize(value), [value]);
  const options = typed ? matchVariables(env.variables, typed.prefix) : [];
  const listId = `${id}-suggestions`;
  const open = options.length > 0;

  function track() {
    const el = area.current;
    if (!el) return;
    caret.current = { start: el.selectionStart, end: el.selectionEnd };
    setTyped(
      el.selectionStart === el.selectionEnd ? typedVariable(el.value, el.selectionStart) : null,
    );
    setActive(0);
  }

  function replace(from: number, to: number, text: string, caretAt: number) {
    const v = current.current;
    const next = v.slice(0, from) + text + v.slice(to);
    onChange(next);
    requestAnimationFrame(() => {
      const el = area.current;
      if (!el) return;
      el.focus();
      el.setSelectionRange(caretAt, caretAt);
      caret.current = { start: caretAt, end: caretAt };
    });
  }

  function pick(v: Variable) {
    if (!typed) return;
    const end = caret.current.start;
    const close = value.slice(end).trimStart().startsWith("}}") ? "" : "}}";
    replace(typed.start, end, v.path + close, typed.start + v.path.length + close.length);
    setTyped(null);
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    const k = open ? suggestionKey(e.key, active, options.length) : null;
    if (k === null) {
      if (e.key === "Enter" && !multiline) e.preventDefault();
      return;
    }
    e.preventDefault();
    e.stopPropagation();
    if (k === "pick") pick(options[active]);
    else if (k === "close") setTyped(null);
    else setActive(k);
  }

  function onFocus() {
    env.setTarget({
      kind: "template",
      label,
      insert: (path) => {
        const { start, end } = caret.current;
        const text = `{{${path}}}`;
        replace(start, end, text, start + text.length);
      },
    });
  }

  return (
    <div className={`tpl${multiline ? " tpl-multi" : ""}`}>
      <pre ref={pre} className="tpl-highlight" aria-hidden="true">
        {tokens.map((t, i) => (
          <span key={i} className={`tk-${t.kind}`}>
            {t.text}
          </span>
        ))}
        {"\n"}
      </pre>
      <textarea
        ref={area}
        id={id}
        className="tpl-input"
        value={value}
        spellCheck={false}
        rows={multiline ? 8 : 1}
        wrap={multiline ? "soft" : "off"}
        aria-label={ariaLabel}
        aria-describedby={describedBy}
        aria-invalid={invalid || undefined}
        aria-required={required || undefined}
        aria-autocomplete="list"
        aria-controls={open ? listId : undefined}
        aria-activedescendant={open ? optionId(listId, active) : undefined}
        onChange={(e) => {
          onChange(e.target.value);
          requestAnimationFrame(track);
        }}
        onSelect={track}
        onKeyDown={onKeyDown}
        onFocus={onFocus}
        onBlur={() => setTyped(null)}
        onScroll={(e) => {
          if (pre.current) {
            pre.current.scrollTop = e.currentTarget.scrollTop;
            pre.current.scrollLeft = e.currentTarget.scrollLeft;
          }
        }}
      />
      {open && <Suggestions id={listId} options={options} active={active} onPick={pick} />}
    </div>
  );
}
