// One integration's designer: palette and parameters on the left, the
// canvas (or the code view) in the middle, the inspector on the right.
// This component wires them together; each part lives in its own file.
// SPDX-License-Identifier: MIT
import { ReactFlowProvider, useReactFlow } from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { GenerateResult, IntegrationStatus } from "../api/client";
import { AppBar } from "../components/AppBar";
import { AppKeyDialog } from "../components/AppKeyDialog";
import { ConfirmDialog } from "../components/Dialog";
import { SettingsDialog } from "../components/SettingsDialog";
import { useApi, useCatalog } from "../context";
import { FieldEnvContext, fieldDomId, type InsertTarget } from "../fields/context";
import { type Json } from "../json";
import { go } from "../route";
import { findNode, nodesOf, type XY } from "../workflow/doc";
import { addNode, setPositions } from "../workflow/edit";
import { autoLayout } from "../workflow/layout";
import type { Placed } from "../workflow/problems";
import { Canvas } from "./Canvas";
import { CodeView } from "./CodeView";
import { DesignerHeader } from "./DesignerHeader";
import { ExecutionsPanel } from "./ExecutionsPanel";
import type { TraceView } from "./flowModel";
import { GenerateDialog } from "./GenerateDialog";
import { Inspector, type InspectorTab } from "./Inspector";
import { NodeTab } from "./NodeTab";
import { Palette } from "./Palette";
import { ParametersPanel } from "./ParametersPanel";
import { ProblemsPanel } from "./ProblemsPanel";
import { TestPanel } from "./TestPanel";
import { Toolbar } from "./Toolbar";
import { useAnnouncer } from "./useAnnouncer";
import { useCodeView } from "./useCodeView";
import { useFiles } from "./useFiles";
import { useShortcuts } from "./useShortcuts";
import { useVariables } from "./useVariables";
import { useWorkflow } from "./useWorkflow";

interface Props {
  integrationId: string;
  onSignOut: () => void;
}

type Modal = "generate" | "settings" | "key" | "leave";

export function Designer(props: Props) {
  return (
    <ReactFlowProvider>
      <DesignerView {...props} />
    </ReactFlowProvider>
  );
}

function DesignerView({ integrationId, onSignOut }: Props) {
  const api = useApi();
  const { types, catalog, error: catalogError } = useCatalog();
  const wf = useWorkflow(integrationId);
  const { doc, history, integration } = wf;
  const rf = useReactFlow();
  const [selected, setSelected] = useState<string | null>(null);
  const [tab, setTab] = useState<InspectorTab>("node");
  const [trace, setTrace] = useState<TraceView | null>(null);
  const [modal, setModal] = useState<Modal | null>(null);
  const said = useAnnouncer();
  const say = said.say;
  const [saving, setSaving] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  const [target, setTarget] = useState<InsertTarget | null>(null);
  const [refresh, setRefresh] = useState(0);
  const focusNext = useRef<string | null>(null);
  const vars = useVariables(integrationId, selected, doc, wf.savedIds, refresh);
  const edit = history.set;

  const [fitSignal, setFitSignal] = useState(0);
  const fit = useCallback(() => setFitSignal((n) => n + 1), []);
  const opened = useCallback(
    (next: Json, message: string) => {
      wf.open(next);
      setSelected(null);
      setTrace(null);
      setNote(message);
      fit();
    },
    [wf, fit],
  );
  const code = useCodeView(doc, (next) => wf.open(next));
  const files = useFiles(doc, catalog, integration?.name ?? integrationId, opened, say);

  const node = selected ? findNode(doc, selected) : undefined;
  useEffect(() => {
    if (selected && !node) setSelected(null);
  }, [selected, node]);
  useEffect(() => setTarget(null), [selected]);
  useEffect(() => {
    if (!focusNext.current) return;
    document.getElementById(focusNext.current)?.focus();
    focusNext.current = null;
  });

  const save = useCallback(async () => {
    if (code.view === "code" && !code.apply(false)) return;
    setSaving(true);
    const r = await wf.save();
    setSaving(false);
    say(r.message);
    if (r.ok) {
      setNote(null);
      setRefresh((n) => n + 1);
    }
  }, [wf, code]);

  useShortcuts({ undo: history.undo, redo: history.redo, save });
  useEffect(() => {
    const warn = (e: BeforeUnloadEvent) => {
      if (wf.dirty) e.preventDefault();
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [wf.dirty]);

  function add(type: string, at?: XY) {
    const t = catalog.get(type);
    const place = at ?? viewCentre(rf, doc);
    const r = addNode(doc, type, t?.title ?? type, place);
    edit(r.doc);
    setSelected(r.id);
    setTab("node");
    say(`Added ${t?.title ?? type} node ${r.id}.`);
  }

  function pickProblem(p: Placed) {
    if (code.view === "code") code.leave();
    if (!p.nodeId || !findNode(doc, p.nodeId)) return;
    setSelected(p.nodeId);
    setTab("node");
    const steps = p.field ? [p.field, ...p.rest.slice(0, 2)] : ["$id"];
    focusNext.current = fieldDomId(p.nodeId, ...steps);
    rf.fitView({ nodes: [{ id: p.nodeId }], maxZoom: 1.2, duration: 200 });
  }

  function showNode(id: string) {
    setSelected(id);
    rf.fitView({ nodes: [{ id }], maxZoom: 1.2, duration: 200 });
  }

  async function setStatus(status: IntegrationStatus) {
    try {
      wf.setIntegration(await api.patchIntegration(integrationId, { status }));
      say(
        status === "active"
          ? "The integration is active: shares now run."
          : "The integration is inactive.",
      );
    } catch (e) {
      say((e as Error).message);
    }
  }

  function onDraft(r: GenerateResult) {
    setModal(null);
    const extra = [r.explanation ?? [], r.warnings ?? []].flat().filter(Boolean).join(" ");
    opened(r.workflow, `Generated draft: review it, then save.${extra ? ` ${extra}` : ""}`);
  }

  const env = useMemo(
    () => ({ variables: vars.variables, target, setTarget }),
    [vars.variables, target],
  );

  if (wf.loadError) {
    return (
      <div className="page">
        <AppBar onSignOut={onSignOut} />
        <main className="page-main">
          <p className="error-banner" role="alert">
            {wf.loadError}
          </p>
          <a href="#/">Back to the integrations</a>
        </main>
      </div>
    );
  }

  return (
    <FieldEnvContext.Provider value={env}>
      <div className="designer">
        <DesignerHeader
          integration={integration}
          version={wf.version}
          dirty={wf.dirty}
          onLeave={() => setModal("leave")}
          onStatus={setStatus}
          onSignOut={onSignOut}
        />
        <Toolbar
          view={code.view}
          canUndo={history.canUndo}
          canRedo={history.canRedo}
          dirty={wf.dirty}
          saving={saving}
          onUndo={history.undo}
          onRedo={history.redo}
          onLayout={() => {
            edit(setPositions(doc, autoLayout(doc, catalog)));
            fit();
          }}
          onView={(v) => (v === "code" ? code.enter() : code.leave())}
          onImport={files.importFile}
          onExport={files.exportFile}
          onGenerate={() => setModal("generate")}
          onSettings={() => setModal("settings")}
          onSave={save}
        />
        <div className="status-line" role="status">
          {said.text}
        </div>
        {note && (
          <div className="draft-note">
            {note}
            <button type="button" className="quiet" onClick={() => setNote(null)}>
              Dismiss
            </button>
          </div>
        )}
        <div className="designer-body">
          <aside className="sidebar" aria-label="Palette and parameters">
            <Palette types={types} error={catalogError} onAdd={(t) => add(t)} />
            <ParametersPanel error={vars.error} nodeId={selected} />
          </aside>
          <main className="workspace" aria-label="Workflow">
            {trace && (
              <div className="trace-banner">
                Showing {trace.title}: {trace.status}.
                <button type="button" className="quiet" onClick={() => setTrace(null)}>
                  Clear
                </button>
              </div>
            )}
            {!wf.loaded ? (
              <p className="canvas" role="status">
                Loading…
              </p>
            ) : code.view === "canvas" ? (
              <Canvas
                doc={doc}
                catalog={catalog}
                selected={selected}
                problems={wf.problems}
                trace={trace}
                onSelect={setSelected}
                onEdit={edit}
                onDropType={add}
                fitSignal={fitSignal}
              />
            ) : (
              <CodeView
                text={code.text}
                error={code.error}
                onChange={code.setText}
                onApply={() => code.apply(false)}
              />
            )}
            <ProblemsPanel
              problems={wf.problems.all}
              extra={files.problem ? [files.problem] : []}
              onPick={pickProblem}
            />
          </main>
          <Inspector tab={tab} onTab={setTab}>
            {tab === "node" && (
              <NodeTab
                doc={doc}
                node={node}
                catalog={catalog}
                problems={wf.problems}
                kept={wf.kept}
                trace={trace}
                onEdit={edit}
                onSelect={setSelected}
              />
            )}
            {tab === "test" && (
              <TestPanel
                integrationId={integrationId}
                doc={doc}
                problemCount={wf.problems.all.length}
                trace={trace}
                onTrace={setTrace}
                onShow={showNode}
              />
            )}
            {tab === "runs" && (
              <ExecutionsPanel
                integrationId={integrationId}
                trace={trace}
                onTrace={setTrace}
                onShow={showNode}
              />
            )}
          </Inspector>
        </div>
        {modal === "generate" && (
          <GenerateDialog onDraft={onDraft} onClose={() => setModal(null)} />
        )}
        {modal === "settings" && integration && (
          <SettingsDialog
            integration={integration}
            onClose={() => setModal(null)}
            onNewKey={async () => {
              try {
                wf.setIntegration(await api.rotateAppKey(integrationId));
                setModal("key");
              } catch (e) {
                say((e as Error).message);
              }
            }}
            onSaved={(it) => {
              wf.setIntegration(it);
              setModal(null);
              setRefresh((n) => n + 1);
              say("Settings saved.");
            }}
          />
        )}
        {modal === "key" && integration?.app_key && (
          <AppKeyDialog integration={integration} onClose={() => setModal(null)} />
        )}
        {modal === "leave" && (
          <ConfirmDialog
            title="Leave without saving?"
            danger
            confirm="Leave"
            onClose={() => setModal(null)}
            onConfirm={() => go({ page: "list" })}
            message="The workflow has changes that are not saved. They will be lost."
          />
        )}
      </div>
    </FieldEnvContext.Provider>
  );
}

/** Where a node added from the keyboard goes: the middle of the view, staggered. */
function viewCentre(rf: ReturnType<typeof useReactFlow>, doc: Json): XY {
  const r = document.querySelector(".canvas")?.getBoundingClientRect();
  const c = r
    ? rf.screenToFlowPosition({ x: r.left + r.width / 2, y: r.top + r.height / 2 })
    : { x: 0, y: 0 };
  const step = (nodesOf(doc).length % 5) * 24;
  return { x: c.x - 110 + step, y: c.y - 50 + step };
}
