// Shows a new app key, once: the server keeps only its hash. With it the
// share URL and a ready-to-run curl line for sending a first share.
// SPDX-License-Identifier: MIT
import type { Integration } from "../api/client";
import { CopyField } from "./CopyField";
import { Dialog } from "./Dialog";

interface Props {
  integration: Integration;
  onClose: () => void;
  onOpen?: () => void;
}

export function shareUrl(): string {
  return `${location.origin}/api/v1/shares`;
}

export function AppKeyDialog({ integration, onClose, onOpen }: Props) {
  const key = integration.app_key ?? "";
  const curl =
    `curl -X POST ${shareUrl()} -H 'Authorization: Bearer ${key}' ` +
    `-H 'Content-Type: application/json' -d @incident.json`;
  return (
    <Dialog title={`App key for ${integration.name}`} onClose={onClose} wide>
      <p className="warning-text">
        Copy the app key now: it is shown only this once. The incident platform sends shares to the
        share URL with this key as a Bearer token.
      </p>
      <CopyField label="App key" value={key} />
      <CopyField label="Share URL" value={shareUrl()} />
      <CopyField label="Example request" value={curl} />
      <div className="dialog-actions">
        <button type="button" onClick={onClose}>
          Close
        </button>
        {onOpen && (
          <button type="button" className="primary" onClick={onOpen}>
            Open the designer
          </button>
        )}
      </div>
    </Dialog>
  );
}
