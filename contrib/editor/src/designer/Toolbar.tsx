// The designer's toolbar: history, layout, the canvas/code switch, files,
// generation, test and save.
// SPDX-License-Identifier: MIT
import { useRef } from "react";

interface Props {
  view: "canvas" | "code";
  canUndo: boolean;
  canRedo: boolean;
  dirty: boolean;
  saving: boolean;
  onUndo: () => void;
  onRedo: () => void;
  onLayout: () => void;
  onView: (v: "canvas" | "code") => void;
  onImport: (file: File) => void;
  onExport: () => void;
  onGenerate: () => void;
  onSettings: () => void;
  onSave: () => void;
}

export function Toolbar(p: Props) {
  const file = useRef<HTMLInputElement>(null);
  return (
    <div className="toolbar" role="toolbar" aria-label="Workflow">
      <div className="tool-group">
        <button
          type="button"
          onClick={p.onUndo}
          disabled={!p.canUndo}
          aria-keyshortcuts="Control+Z"
          title="Undo (Ctrl+Z)"
        >
          Undo
        </button>
        <button
          type="button"
          onClick={p.onRedo}
          disabled={!p.canRedo}
          aria-keyshortcuts="Control+Shift+Z"
          title="Redo (Ctrl+Shift+Z)"
        >
          Redo
        </button>
        <button type="button" onClick={p.onLayout} disabled={p.view !== "canvas"}>
          Auto layout
        </button>
      </div>
      <div className="tool-group segmented" role="group" aria-label="View">
        <button type="button" aria-pressed={p.view === "canvas"} onClick={() => p.onView("canvas")}>
          Canvas
        </button>
        <button type="button" aria-pressed={p.view === "code"} onClick={() => p.onView("code")}>
          Code
        </button>
      </div>
      <div className="tool-group">
        <button type="button" onClick={() => file.current?.click()}>
          Import…
        </button>
        <input
          ref={file}
          type="file"
          accept=".json,application/json"
          hidden
          aria-label="Workflow file to import"
          data-testid="import-file"
          onChange={(e) => {
            const f = e.target.files?.[0];
            if (f) p.onImport(f);
            e.target.value = "";
          }}
        />
        <button type="button" onClick={p.onExport}>
          Export
        </button>
        <button type="button" onClick={p.onGenerate}>
          Generate…
        </button>
        <button type="button" onClick={p.onSettings}>
          Settings…
        </button>
      </div>
      <span className="spacer" />
      <span className="save-state" aria-live="polite">
        {p.dirty ? "Unsaved changes" : "All changes saved"}
      </span>
      <button
        type="button"
        className="primary"
        onClick={p.onSave}
        disabled={p.saving}
        aria-keyshortcuts="Control+S"
        title="Save (Ctrl+S)"
      >
        {p.saving ? "Saving…" : "Save"}
      </button>
    </div>
  );
}
