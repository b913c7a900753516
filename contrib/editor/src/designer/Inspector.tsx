// The right-hand panel, in tabs: the selected node (or the workflow),
// test runs, and executions. Tabs follow the ARIA tabs pattern.
// SPDX-License-Identifier: MIT
import { useRef, type KeyboardEvent, type ReactNode } from "react";

export type InspectorTab = "node" | "test" | "runs";

const TABS: { id: InspectorTab; label: string }[] = [
  { id: "node", label: "Node" },
  { id: "test", label: "Test" },
  { id: "runs", label: "Executions" },
];

interface Props {
  tab: InspectorTab;
  onTab: (t: InspectorTab) => void;
  children: ReactNode;
}

export function Inspector({ tab, onTab, children }: Props) {
  const refs = useRef<Record<string, HTMLButtonElement | null>>({});
  function onKeyDown(e: KeyboardEvent) {
    const i = TABS.findIndex((t) => t.id === tab);
    const by = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
    if (!by) return;
    e.preventDefault();
    const next = TABS[(i + by + TABS.length) % TABS.length].id;
    onTab(next);
    refs.current[next]?.focus();
  }
  return (
    <aside className="inspector" aria-label="Inspector">
      <div role="tablist" aria-label="Inspector" className="tabs" onKeyDown={onKeyDown}>
        {TABS.map((t) => (
          <button
            key={t.id}
            ref={(el) => {
              refs.current[t.id] = el;
            }}
            type="button"
            role="tab"
            id={`tab-${t.id}`}
            aria-selected={tab === t.id}
            aria-controls={tab === t.id ? `panel-${t.id}` : undefined}
            tabIndex={tab === t.id ? 0 : -1}
            onClick={() => onTab(t.id)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="tab-panel">
        {children}
      </div>
    </aside>
  );
}
