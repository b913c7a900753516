// The parameters panel: the variables available at the selected node,
// grouped by where they come from. A click inserts one into the field
// that had the focus last.
// SPDX-License-Identifier: MIT
import { useState } from "react";
import type { Variable } from "../api/client";
import { useFieldEnv } from "../fields/context";

const GROUPS: { source: string; title: string }[] = [
  { source: "node", title: "Outputs of earlier nodes" },
  { source: "share", title: "From recent shares" },
  { source: "moonwire", title: "Added by Moonwire" },
  { source: "setting", title: "Integration settings" },
];

export function ParametersPanel({
  error,
  nodeId,
}: {
  error: string | null;
  nodeId: string | null;
}) {
  const env = useFieldEnv();
  const [filter, setFilter] = useState("");
  const [said, setSaid] = useState("");
  const shown = env.variables.filter((v) => v.path.toLowerCase().includes(filter.toLowerCase()));

  function insert(v: Variable) {
    if (!env.target) {
      setSaid("Click into a template field of the node first, then pick a variable.");
      return;
    }
    env.target.insert(v.path);
    setSaid(`Inserted ${v.path} into ${env.target.label}.`);
  }

  return (
    <section className="parameters" aria-labelledby="parameters-title">
      <h2 id="parameters-title" className="panel-title">
        Parameters
      </h2>
      <p className="hint">
        {nodeId ? (
          <>
            Variables available at <span className="mono">{nodeId}</span>.
          </>
        ) : (
          "Variables of this integration. Select a node for its own."
        )}
        {env.target ? ` Click one to insert it into ${env.target.label}.` : ""}
      </p>
      <label className="visually-hidden" htmlFor="parameters-filter">
        Filter variables
      </label>
      <input
        id="parameters-filter"
        type="search"
        placeholder="Filter variables"
        value={filter}
        onChange={(e) => setFilter(e.target.value)}
      />
      {error && <p className="field-error">{error}</p>}
      <p className="visually-hidden" role="status">
        {said}
      </p>
      {said && (
        <p className="hint" aria-hidden="true">
          {said}
        </p>
      )}
      <div className="parameters-list">
        {GROUPS.map((g) => {
          const vars = shown.filter(
            (v) =>
              v.source === g.source ||
              (g.source === "share" && !GROUPS.some((x) => x.source === v.source)),
          );
          if (vars.length === 0) return null;
          return (
            <div key={g.source} role="group" aria-label={g.title}>
              <h3 className="group-title">{g.title}</h3>
              <ul>
                {vars.map((v) => (
                  <li key={v.path}>
                    <button
                      type="button"
                      className="variable mono"
                      onClick={() => insert(v)}
                      title={v.node ? `set by ${v.node}` : undefined}
                    >
                      {v.path}
                    </button>
                  </li>
                ))}
              </ul>
            </div>
          );
        })}
        {shown.length === 0 && (
          <p className="empty">
            No variables yet: they appear once shares arrive or earlier nodes set outputs.
          </p>
        )}
      </div>
    </section>
  );
}
