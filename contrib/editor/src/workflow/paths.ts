// JSON paths as import validation writes them: $.nodes[1].config.url,
// with keys that are not plain names quoted: $.editor["odd key"].
// SPDX-License-Identifier: MIT

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function joinPath(base: string, step: string | number): string {
  if (typeof step === "number") return `${base}[${step}]`;
  return NAME.test(step) ? `${base}.${step}` : `${base}[${JSON.stringify(step)}]`;
}

export type Step = string | number;

/** Splits a path into its steps; "$.a[0]["b c"]" gives ["a", 0, "b c"]. */
export function splitPath(path: string): Step[] {
  const steps: Step[] = [];
  const re = /\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(path)) !== null) {
    if (m[1] !== undefined) steps.push(m[1]);
    else if (m[2] !== undefined) steps.push(Number(m[2]));
    else steps.push(JSON.parse(m[3]) as string);
  }
  return steps;
}

/**
 * What a path points at: a node (by index) and the config field under it,
 * or a connection (by index).
 */
export interface PathTarget {
  nodeIndex?: number;
  field?: string;
  /** The rest of the path below the field, e.g. [0, "port"] in routes. */
  fieldRest?: Step[];
  connectionIndex?: number;
}

export function targetOf(path: string): PathTarget {
  const s = splitPath(path);
  if (s[0] === "nodes" && typeof s[1] === "number") {
    const t: PathTarget = { nodeIndex: s[1] };
    if (s[2] === "config" && typeof s[3] === "string") {
      t.field = s[3];
      t.fieldRest = s.slice(4);
    } else if (typeof s[2] === "string") {
      t.field = `$${s[2]}`;
    }
    return t;
  }
  if (s[0] === "connections" && typeof s[1] === "number") return { connectionIndex: s[1] };
  return {};
}
