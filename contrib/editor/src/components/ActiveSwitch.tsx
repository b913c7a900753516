// The active/inactive switch of an integration, with its badge beside it.
// SPDX-License-Identifier: MIT
import type { IntegrationStatus } from "../api/client";
import { StatusBadge } from "./StatusBadge";

interface Props {
  name: string;
  status: IntegrationStatus;
  busy?: boolean;
  onChange: (next: IntegrationStatus) => void;
}

export function ActiveSwitch({ name, status, busy, onChange }: Props) {
  const on = status === "active";
  return (
    <span className="switch-wrap">
      <button
        type="button"
        role="switch"
        aria-checked={on}
        disabled={busy}
        aria-label={`Active: ${name}`}
        className={on ? "switch on" : "switch"}
        onClick={() => onChange(on ? "inactive" : "active")}
      >
        <span className="switch-knob" aria-hidden="true" />
      </button>
      <StatusBadge status={status} />
    </span>
  );
}
