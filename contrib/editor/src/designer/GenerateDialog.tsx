// Generate: a prompt in plain words, sent to POST /api/v1/generate; the
// answer opens on the canvas as an unsaved draft to review.
// SPDX-License-Identifier: MIT
import { useState, type FormEvent } from "react";
import { ApiError, type GenerateResult } from "../api/client";
import { Dialog } from "../components/Dialog";
import { useApi } from "../context";

const NOT_AVAILABLE =
  "Workflow generation is not available on this server yet. " +
  "Build the workflow on the canvas instead.";

interface Props {
  onDraft: (r: GenerateResult) => void;
  onClose: () => void;
}

export function GenerateDialog({ onDraft, onClose }: Props) {
  const api = useApi();
  const [prompt, setPrompt] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onDraft(await api.generate(prompt.trim()));
    } catch (err) {
      setError(
        err instanceof ApiError && (err.status === 404 || err.status === 501)
          ? NOT_AVAILABLE
          : (err as Error).message,
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog title="Generate a workflow" onClose={onClose} wide>
      <form onSubmit={submit}>
        <div className="field">
          <label htmlFor="generate-prompt">What should the integration do?</label>
          <textarea
            id="generate-prompt"
            rows={6}
            value={prompt}
            required
            autoFocus
            aria-describedby="generate-hint"
            onChange={(e) => setPrompt(e.target.value)}
          />
          <span id="generate-hint" className="hint">
            Name the target system, the events to handle, the fields to send and how new incidents
            differ from updates. The result replaces the canvas as a draft; nothing is saved until
            you save.
          </span>
        </div>
        {error && (
          <p className="field-error" role="alert">
            {error}
          </p>
        )}
        <div className="dialog-actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || prompt.trim() === ""}>
            {busy ? "Generating…" : "Generate draft"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
