// Keyboard shortcuts of the designer: Ctrl+Z undo, Ctrl+Shift+Z or Ctrl+Y
// redo, Ctrl+S save (Cmd on macOS). Undo and redo leave text fields to
// their own undo.
// SPDX-License-Identifier: MIT
import { useEffect, useRef } from "react";

interface Actions {
  undo: () => void;
  redo: () => void;
  save: () => void;
}

function inText(el: EventTarget | null): boolean {
  if (!(el instanceof HTMLElement)) return false;
  return el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName);
}

export function useShortcuts(actions: Actions): void {
  const ref = useRef(actions);
  ref.current = actions;
  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      if (!(e.ctrlKey || e.metaKey) || e.altKey) return;
      const key = e.key.toLowerCase();
      if (key === "s") {
        e.preventDefault();
        ref.current.save();
      } else if (!inText(e.target) && key === "z") {
        e.preventDefault();
        if (e.shiftKey) ref.current.redo();
        else ref.current.undo();
      } else if (!inText(e.target) && key === "y") {
        e.preventDefault();
        ref.current.redo();
      }
    }
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
}
