// The variables available at the selected node: what the server knows
// (recent shares, Moonwire's own, settings, outputs of nodes upstream in
// the saved workflow) plus the outputs of upstream nodes in the draft.
// SPDX-License-Identifier: MIT
import { useEffect, useMemo, useState } from "react";
import type { Variable } from "../api/client";
import { useApi, useCatalog } from "../context";
import type { Json } from "../json";
import { connectionsOf, nodesOf } from "../workflow/doc";

function upstreamOf(doc: Json, id: string): Set<string> {
  const parents = new Map<string, string[]>();
  for (const w of connectionsOf(doc)) parents.set(w.to, [...(parents.get(w.to) ?? []), w.from]);
  const seen = new Set<string>();
  const stack = [id];
  while (stack.length) {
    for (const p of parents.get(stack.pop()!) ?? []) {
      if (!seen.has(p)) {
        seen.add(p);
        stack.push(p);
      }
    }
  }
  return seen;
}

/** Output variables of the draft's upstream nodes, read from "variable" fields. */
function draftOutputs(
  doc: Json,
  id: string | null,
  catalog: ReturnType<typeof useCatalog>["catalog"],
): Variable[] {
  if (!id) return [];
  const up = upstreamOf(doc, id);
  const out: Variable[] = [];
  for (const n of nodesOf(doc)) {
    if (!up.has(n.id)) continue;
    for (const f of catalog.get(n.type)?.schema ?? []) {
      if (f.kind !== "variable" || f.name !== "output") continue;
      const name = n.config[f.name] ?? f.default;
      if (typeof name === "string" && name) out.push({ path: name, source: "node", node: n.id });
    }
  }
  return out;
}

/**
 * `saved` holds the ids of the saved version's nodes: the server answers
 * for those only, so for a new node the draft's own outputs stand alone.
 */
export function useVariables(
  integrationId: string,
  nodeId: string | null,
  doc: Json,
  saved: Set<string>,
  refresh: number,
): { variables: Variable[]; error: string | null } {
  const api = useApi();
  const { catalog } = useCatalog();
  const [server, setServer] = useState<Variable[]>([]);
  const [error, setError] = useState<string | null>(null);

  const asked = nodeId && saved.has(nodeId) ? nodeId : undefined;
  useEffect(() => {
    let live = true;
    api
      .variables(integrationId, asked)
      .then((v) => {
        if (live) {
          setServer(v);
          setError(null);
        }
      })
      .catch((e: Error) => live && setError(e.message));
    return () => {
      live = false;
    };
  }, [api, integrationId, asked, refresh]);

  const variables = useMemo(() => {
    const seen = new Set<string>();
    const out: Variable[] = [];
    for (const v of [...draftOutputs(doc, nodeId, catalog), ...server]) {
      if (!seen.has(v.path)) {
        seen.add(v.path);
        out.push(v);
      }
    }
    return out;
  }, [server, doc, nodeId, catalog]);
  return { variables, error };
}
