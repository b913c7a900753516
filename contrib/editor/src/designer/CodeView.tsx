// The code view: the workflow as JSON text, editable. The text goes back
// to the canvas only when it parses; until then the error says where.
// SPDX-License-Identifier: MIT
interface Props {
  text: string;
  error: string | null;
  onChange: (text: string) => void;
  onApply: () => void;
}

export function CodeView({ text, error, onChange, onApply }: Props) {
  const lines = text.split("\n").length;
  return (
    <div className="code-view">
      <div className="code-head">
        <label htmlFor="code-text" className="panel-title">
          Workflow JSON
        </label>
        <span className="hint">
          {lines} lines. Edits reach the canvas when you switch back or apply them.
        </span>
        <button type="button" onClick={onApply}>
          Apply
        </button>
      </div>
      {error && (
        <p className="error-banner" role="alert" id="code-error">
          {error}
        </p>
      )}
      <textarea
        id="code-text"
        className="code-text mono"
        value={text}
        spellCheck={false}
        wrap="off"
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? "code-error" : undefined}
        onChange={(e) => onChange(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Tab" && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey) {
            // two spaces, as the export writes; Escape then Tab leaves the field
            if (e.currentTarget.dataset.escaped === "1") return;
            e.preventDefault();
            const el = e.currentTarget;
            const at = el.selectionStart;
            onChange(text.slice(0, at) + "  " + text.slice(el.selectionEnd));
            requestAnimationFrame(() => el.setSelectionRange(at + 2, at + 2));
          }
          e.currentTarget.dataset.escaped = e.key === "Escape" ? "1" : "";
        }}
      />
      <p className="hint">Tab indents; press Escape, then Tab, to move on.</p>
    </div>
  );
}
