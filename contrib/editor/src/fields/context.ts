// What the form fields share with the parameters panel: the variables
// known at the selected node (for autocompletion) and the field that had
// the focus last, into which a click on a variable inserts it.
// SPDX-License-Identifier: MIT
import { createContext, useContext } from "react";
import type { Variable } from "../api/client";

export interface InsertTarget {
  /** "template" fields take {{path}}; "path" fields take the bare path. */
  kind: "template" | "path";
  label: string;
  insert: (path: string) => void;
}

export interface FieldEnv {
  variables: Variable[];
  target: InsertTarget | null;
  setTarget: (t: InsertTarget | null) => void;
}

export const FieldEnvContext = createContext<FieldEnv>({
  variables: [],
  target: null,
  setTarget: () => {},
});

export function useFieldEnv(): FieldEnv {
  return useContext(FieldEnvContext);
}

/** Variables matching what was typed: prefix matches first, at most `max`. */
export function matchVariables(all: Variable[], typed: string, max = 12): Variable[] {
  const t = typed.toLowerCase();
  const starts = all.filter((v) => v.path.toLowerCase().startsWith(t));
  const inside =
    t === ""
      ? []
      : all.filter((v) => !v.path.toLowerCase().startsWith(t) && v.path.toLowerCase().includes(t));
  return [...starts, ...inside].filter((v) => v.path !== typed).slice(0, max);
}

/** A DOM id for a field of a node: f-<node>-<field>[-<index>-<sub>]. */
export function fieldDomId(node: string, ...steps: (string | number)[]): string {
  return ["f", node, ...steps].join("-").replace(/[^A-Za-z0-9_-]/g, "_");
}
