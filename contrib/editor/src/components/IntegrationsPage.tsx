// The integrations list: create, open, rename, delete, and switch each
// between active and inactive.
// SPDX-License-Identifier: MIT
import { useCallback, useEffect, useState } from "react";
import type { Integration, IntegrationStatus } from "../api/client";
import { useApi } from "../context";
import { go } from "../route";
import { ActiveSwitch } from "./ActiveSwitch";
import { AppBar } from "./AppBar";
import { AppKeyDialog } from "./AppKeyDialog";
import { ConfirmDialog } from "./Dialog";
import { NameDialog } from "./NameDialog";
import { formatTime } from "./time";

type Modal =
  | { kind: "create" }
  | { kind: "key"; integration: Integration }
  | { kind: "rename"; integration: Integration }
  | { kind: "delete"; integration: Integration };

export function IntegrationsPage({ onSignOut }: { onSignOut: () => void }) {
  const api = useApi();
  const [list, setList] = useState<Integration[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [modal, setModal] = useState<Modal | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const load = useCallback(() => {
    api
      .listIntegrations()
      .then(setList)
      .catch((e: Error) => setError(e.message));
  }, [api]);
  useEffect(load, [load]);

  async function setStatus(it: Integration, status: IntegrationStatus) {
    setBusy(it.id);
    setError(null);
    try {
      await api.patchIntegration(it.id, { status });
      load();
    } catch (e) {
      setError(`${it.name}: ${(e as Error).message}`);
    } finally {
      setBusy(null);
    }
  }

  async function create(name: string): Promise<string | null> {
    try {
      const it = await api.createIntegration(name);
      setModal({ kind: "key", integration: it });
      load();
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  }

  async function rename(it: Integration, name: string): Promise<string | null> {
    try {
      await api.patchIntegration(it.id, { name });
      setModal(null);
      load();
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  }

  async function remove(it: Integration) {
    setModal(null);
    try {
      await api.deleteIntegration(it.id);
      load();
    } catch (e) {
      setError((e as Error).message);
    }
  }

  return (
    <div className="page">
      <AppBar onSignOut={onSignOut}>
        <span className="crumb">Integrations</span>
      </AppBar>
      <main className="page-main" aria-labelledby="integrations-title">
        <div className="page-head">
          <h1 id="integrations-title">Integrations</h1>
          <button type="button" className="primary" onClick={() => setModal({ kind: "create" })}>
            New integration
          </button>
        </div>
        {error && (
          <p className="error-banner" role="alert">
            {error}
          </p>
        )}
        {list === null ? (
          <p role="status">Loading…</p>
        ) : list.length === 0 ? (
          <p className="empty">No integrations yet: create one to start.</p>
        ) : (
          <IntegrationTable
            list={list}
            busy={busy}
            onStatus={setStatus}
            onRename={(it) => setModal({ kind: "rename", integration: it })}
            onDelete={(it) => setModal({ kind: "delete", integration: it })}
          />
        )}
      </main>
      {modal?.kind === "create" && (
        <NameDialog
          title="New integration"
          action="Create"
          onSubmit={create}
          onClose={() => setModal(null)}
        />
      )}
      {modal?.kind === "key" && (
        <AppKeyDialog
          integration={modal.integration}
          onClose={() => setModal(null)}
          onOpen={() => go({ page: "designer", id: modal.integration.id })}
        />
      )}
      {modal?.kind === "rename" && (
        <NameDialog
          title={`Rename ${modal.integration.name}`}
          action="Rename"
          initial={modal.integration.name}
          onSubmit={(n) => rename(modal.integration, n)}
          onClose={() => setModal(null)}
        />
      )}
      {modal?.kind === "delete" && (
        <ConfirmDialog
          title="Delete integration"
          danger
          confirm="Delete"
          onClose={() => setModal(null)}
          onConfirm={() => remove(modal.integration)}
          message={
            <>
              Delete <strong>{modal.integration.name}</strong> with its workflow and history? Shares
              sent with its app key will be refused.
            </>
          }
        />
      )}
    </div>
  );
}

interface TableProps {
  list: Integration[];
  busy: string | null;
  onStatus: (it: Integration, s: IntegrationStatus) => void;
  onRename: (it: Integration) => void;
  onDelete: (it: Integration) => void;
}

function IntegrationTable({ list, busy, onStatus, onRename, onDelete }: TableProps) {
  return (
    <table className="table">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Status</th>
          <th scope="col">Workflow</th>
          <th scope="col">Updated</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {list.map((it) => (
          <tr key={it.id}>
            <td>
              <a href={`#/integrations/${it.id}`}>{it.name}</a>
            </td>
            <td>
              <ActiveSwitch
                name={it.name}
                status={it.status}
                busy={busy === it.id}
                onChange={(s) => onStatus(it, s)}
              />
            </td>
            <td>{it.workflow_version === null ? "none yet" : `version ${it.workflow_version}`}</td>
            <td>{formatTime(it.updated_at)}</td>
            <td className="row-actions">
              <button type="button" onClick={() => onRename(it)}>
                Rename<span className="visually-hidden"> {it.name}</span>
              </button>
              <button type="button" className="danger-quiet" onClick={() => onDelete(it)}>
                Delete<span className="visually-hidden"> {it.name}</span>
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
