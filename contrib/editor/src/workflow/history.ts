// Undo and redo over immutable values. Edits that share a merge key and
// follow each other closely (typing in one field) count as one step.
// SPDX-License-Identifier: MIT
import { useCallback, useRef, useState } from "react";

const MERGE_MS = 1200;
const LIMIT = 200;

interface State<T> {
  past: T[];
  present: T;
  future: T[];
}

export interface History<T> {
  value: T;
  set: (next: T, mergeKey?: string) => void;
  undo: () => void;
  redo: () => void;
  /** Starts over with `value` and no steps to undo. */
  reset: (value: T) => void;
  canUndo: boolean;
  canRedo: boolean;
}

export function useHistory<T>(initial: T): History<T> {
  const [state, setState] = useState<State<T>>({ past: [], present: initial, future: [] });
  const last = useRef<{ key?: string; at: number }>({ at: 0 });

  const set = useCallback((next: T, mergeKey?: string) => {
    const now = Date.now();
    const merge =
      mergeKey !== undefined && last.current.key === mergeKey && now - last.current.at < MERGE_MS;
    last.current = { key: mergeKey, at: now };
    setState((s) => {
      if (next === s.present) return s;
      const past = merge ? s.past : [...s.past, s.present].slice(-LIMIT);
      return { past, present: next, future: [] };
    });
  }, []);

  const undo = useCallback(() => {
    last.current = { at: 0 };
    setState((s) =>
      s.past.length === 0
        ? s
        : {
            past: s.past.slice(0, -1),
            present: s.past[s.past.length - 1],
            future: [s.present, ...s.future],
          },
    );
  }, []);

  const redo = useCallback(() => {
    last.current = { at: 0 };
    setState((s) =>
      s.future.length === 0
        ? s
        : {
            past: [...s.past, s.present],
            present: s.future[0],
            future: s.future.slice(1),
          },
    );
  }, []);

  const reset = useCallback((value: T) => {
    last.current = { at: 0 };
    setState({ past: [], present: value, future: [] });
  }, []);

  return {
    value: state.present,
    set,
    undo,
    redo,
    reset,
    canUndo: state.past.length > 0,
    canRedo: state.future.length > 0,
  };
}
