// The designer's top bar: the way back to the list (asking first when
// there are unsaved changes), the integration's name, its active switch
// and the saved version.
// SPDX-License-Identifier: MIT
import type { Integration, IntegrationStatus } from "../api/client";
import { ActiveSwitch } from "../components/ActiveSwitch";
import { AppBar } from "../components/AppBar";

interface Props {
  integration: Integration | null;
  version: number | null;
  dirty: boolean;
  onLeave: () => void;
  onStatus: (s: IntegrationStatus) => void;
  onSignOut: () => void;
}

export function DesignerHeader({
  integration,
  version,
  dirty,
  onLeave,
  onStatus,
  onSignOut,
}: Props) {
  return (
    <AppBar onSignOut={onSignOut}>
      <nav aria-label="Breadcrumb" className="crumbs">
        <a
          href="#/"
          onClick={(e) => {
            if (dirty) {
              e.preventDefault();
              onLeave();
            }
          }}
        >
          Integrations
        </a>
        <span aria-hidden="true"> / </span>
        <h1 className="crumb-title">{integration?.name ?? "…"}</h1>
      </nav>
      {integration && (
        <ActiveSwitch name={integration.name} status={integration.status} onChange={onStatus} />
      )}
      {version !== null && <span className="hint">saved version {version}</span>}
    </AppBar>
  );
}
