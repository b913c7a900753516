// The designer's document state: loads an integration and its stored
// workflow, keeps the edited document with undo and redo, validates it as
// it changes, and saves it.
// SPDX-License-Identifier: MIT
import { useCallback, useEffect, useMemo, useState } from "react";
import { ApiError, type Integration, type Problem } from "../api/client";
import { useApi, useCatalog } from "../context";
import { toJson, type Json } from "../json";
import { emptyWorkflow, needsLayout, nodesOf } from "../workflow/doc";
import { setPositions } from "../workflow/edit";
import { useHistory, type History } from "../workflow/history";
import { autoLayout } from "../workflow/layout";
import { indexProblems, type ProblemIndex } from "../workflow/problems";
import { keptSecrets } from "../workflow/export";
import { validateWorkflow } from "../workflow/validate";

export interface WorkflowState {
  integration: Integration | null;
  setIntegration: (it: Integration) => void;
  loadError: string | null;
  history: History<Json>;
  doc: Json;
  /** Version of the stored workflow the document started from. */
  version: number | null;
  dirty: boolean;
  problems: ProblemIndex;
  /** Per node, the secret fields the server keeps from the saved version. */
  kept: Map<string, Set<string>>;
  /** Ids of the nodes of the saved version (the server knows only these). */
  savedIds: Set<string>;
  /** True once the integration and its workflow have been read. */
  loaded: boolean;
  /** Replaces the document (undoable), laying it out when it has no positions. */
  open: (doc: Json) => void;
  save: () => Promise<{ ok: boolean; message: string }>;
}

export function useWorkflow(integrationId: string): WorkflowState {
  const api = useApi();
  const { catalog, loaded } = useCatalog();
  const history = useHistory<Json>(emptyWorkflow());
  const [integration, setIntegration] = useState<Integration | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [version, setVersion] = useState<number | null>(null);
  const [savedText, setSavedText] = useState(() => toJson(emptyWorkflow(), 0));
  const [stored, setStored] = useState<Json>(null);
  const [ready, setReady] = useState(false);
  const [server, setServer] = useState<{ doc: Json; problems: Problem[] }>({
    doc: null,
    problems: [],
  });
  const { reset, set } = history;

  const laidOut = useCallback(
    (doc: Json): Json => (needsLayout(doc) ? setPositions(doc, autoLayout(doc, catalog)) : doc),
    [catalog],
  );

  useEffect(() => {
    if (!loaded) return;
    let live = true;
    // ask for the workflow only when there is one: a 404 would log an error
    api
      .getIntegration(integrationId)
      .then(
        async (it) =>
          [it, it.workflow_version === null ? null : await api.getWorkflow(integrationId)] as const,
      )
      .then(([it, wf]) => {
        if (!live) return;
        setIntegration(it);
        const doc = wf ? wf.doc : emptyWorkflow(it.name);
        const shown = laidOut(doc);
        reset(shown);
        setSavedText(toJson(wf ? doc : shown, 0));
        setStored(wf ? wf.doc : null);
        setVersion(wf ? wf.version : null);
        setReady(true);
      })
      .catch((e: Error) => live && setLoadError(e.message));
    return () => {
      live = false;
    };
  }, [api, integrationId, loaded, laidOut, reset]);

  const doc = history.value;
  const kept = useMemo(() => keptSecrets(stored, catalog), [stored, catalog]);
  const savedIds = useMemo(() => new Set(nodesOf(stored).map((n) => n.id)), [stored]);
  const local = useMemo(() => validateWorkflow(doc, catalog, kept), [doc, catalog, kept]);
  const problems = useMemo(
    () => indexProblems(doc, local, server.doc, server.problems),
    [doc, local, server],
  );
  const dirty = useMemo(() => toJson(doc, 0) !== savedText, [doc, savedText]);

  const open = useCallback((next: Json) => set(laidOut(next)), [set, laidOut]);

  const save = useCallback(async () => {
    try {
      const v = await api.putWorkflow(integrationId, doc);
      setVersion(v);
      setSavedText(toJson(doc, 0));
      setStored(doc);
      setServer({ doc: null, problems: [] });
      setIntegration(await api.getIntegration(integrationId));
      return { ok: true, message: `Saved as version ${v}.` };
    } catch (e) {
      if (e instanceof ApiError && e.problems.length) {
        setServer({ doc, problems: e.problems });
      }
      return { ok: false, message: `Not saved: ${(e as Error).message}` };
    }
  }, [api, integrationId, doc]);

  return {
    integration,
    setIntegration,
    loadError,
    history,
    doc,
    version,
    dirty,
    problems,
    kept,
    savedIds,
    loaded: ready,
    open,
    save,
  };
}
