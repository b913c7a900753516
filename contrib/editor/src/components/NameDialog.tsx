// Asks for an integration's name, to create one or to rename it.
// SPDX-License-Identifier: MIT
import { useState, type FormEvent } from "react";
import { Dialog } from "./Dialog";

interface Props {
  title: string;
  action: string;
  initial?: string;
  onSubmit: (name: string) => Promise<string | null>;
  onClose: () => void;
}

export function NameDialog({ title, action, initial = "", onSubmit, onClose }: Props) {
  const [name, setName] = useState(initial);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(await onSubmit(name.trim()));
    setBusy(false);
  }

  return (
    <Dialog title={title} onClose={onClose}>
      <form onSubmit={submit}>
        <div className="field">
          <label htmlFor="integration-name">Name</label>
          <input
            id="integration-name"
            value={name}
            required
            maxLength={200}
            autoFocus
            onChange={(e) => setName(e.target.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? "integration-name-error" : undefined}
          />
          {error && (
            <span id="integration-name-error" className="field-error" role="alert">
              {error}
            </span>
          )}
        </div>
        <div className="dialog-actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || name.trim() === ""}>
            {action}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
