// Small coloured labels: an integration's status, an execution's result.
// The text says it all; the colour only repeats it.
// SPDX-License-Identifier: MIT

export function StatusBadge({ status }: { status: string }) {
  const label = status.charAt(0).toUpperCase() + status.slice(1);
  return <span className={`badge badge-${status}`}>{label}</span>;
}
