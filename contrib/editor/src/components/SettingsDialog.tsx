// An integration's settings, which templates read as integration.<name>.
// Names that look secret (client_secret, password, api_key, ...) are
// stored encrypted by the server and never shown again: only replaced.
// SPDX-License-Identifier: MIT
import { useState, type FormEvent } from "react";
import type { Integration } from "../api/client";
import { useApi } from "../context";
import { Dialog } from "./Dialog";

interface Row {
  name: string;
  value: string;
  secret: boolean;
  /** The row was stored before; removing it sends null. */
  stored: boolean;
  removed: boolean;
}

function rowsOf(it: Integration): Row[] {
  const plain = Object.entries(it.settings).map(([name, v]) => ({
    name,
    value: String(v),
    secret: false,
    stored: true,
    removed: false,
  }));
  const secret = it.secret_settings.map((name) => ({
    name,
    value: "",
    secret: true,
    stored: true,
    removed: false,
  }));
  return [...plain, ...secret];
}

const SECRETISH = /secret|password|token$|api_?key|private_key/i;

interface Props {
  integration: Integration;
  onSaved: (it: Integration) => void;
  onClose: () => void;
  onNewKey: () => void;
}

export function SettingsDialog({ integration, onSaved, onClose, onNewKey }: Props) {
  const api = useApi();
  const [rows, setRows] = useState<Row[]>(() => rowsOf(integration));
  const [error, setError] = useState<string | null>(null);

  const update = (i: number, patch: Partial<Row>) =>
    setRows((rs) => rs.map((r, j) => (j === i ? { ...r, ...patch } : r)));

  async function save(e: FormEvent) {
    e.preventDefault();
    const settings: Record<string, string | null> = {};
    for (const r of rows) {
      if (r.name.trim() === "") continue;
      if (r.removed) {
        if (r.stored) settings[r.name] = null;
        continue;
      }
      if (r.secret && r.stored && r.value === "") continue;
      settings[r.name.trim()] = r.value;
    }
    try {
      onSaved(await api.patchIntegration(integration.id, { settings }));
    } catch (err) {
      setError((err as Error).message);
    }
  }

  return (
    <Dialog title={`Settings of ${integration.name}`} onClose={onClose} wide>
      <form onSubmit={save}>
        <p className="hint">
          Templates read these as <code>{"{{integration.name}}"}</code>. Secret names are stored
          encrypted and are never shown again.
        </p>
        <table className="table settings-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Value</th>
              <th scope="col">
                <span className="visually-hidden">Remove</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) =>
              r.removed ? null : (
                <SettingRow key={i} row={r} index={i} onChange={(p) => update(i, p)} />
              ),
            )}
          </tbody>
        </table>
        <button
          type="button"
          onClick={() =>
            setRows((rs) => [
              ...rs,
              { name: "", value: "", secret: false, stored: false, removed: false },
            ])
          }
        >
          Add setting
        </button>
        {error && (
          <p className="field-error" role="alert">
            {error}
          </p>
        )}
        <div className="dialog-actions">
          <button type="button" className="quiet" onClick={onNewKey}>
            New app key…
          </button>
          <span className="spacer" />
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary">
            Save settings
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function SettingRow({
  row,
  index,
  onChange,
}: {
  row: Row;
  index: number;
  onChange: (p: Partial<Row>) => void;
}) {
  const secret = row.secret || SECRETISH.test(row.name);
  return (
    <tr>
      <td>
        {row.stored ? (
          <span className="mono">{row.name}</span>
        ) : (
          <input
            aria-label={`Name of setting ${index + 1}`}
            value={row.name}
            className="mono"
            onChange={(e) => onChange({ name: e.target.value })}
          />
        )}
      </td>
      <td>
        <input
          aria-label={`Value of ${row.name || `setting ${index + 1}`}`}
          type={secret ? "password" : "text"}
          value={row.value}
          autoComplete="off"
          placeholder={row.secret && row.stored ? "stored; type to replace" : ""}
          onChange={(e) => onChange({ value: e.target.value })}
        />
      </td>
      <td>
        <button type="button" className="danger-quiet" onClick={() => onChange({ removed: true })}>
          Remove<span className="visually-hidden"> {row.name || `setting ${index + 1}`}</span>
        </button>
      </td>
    </tr>
  );
}
