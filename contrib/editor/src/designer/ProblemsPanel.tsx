// The list of problems with the workflow, each with its JSON path; a
// click selects the node and moves the focus to the field.
// SPDX-License-Identifier: MIT
import { useState } from "react";
import type { Placed } from "../workflow/problems";

interface Props {
  problems: Placed[];
  extra: Placed[];
  onPick: (p: Placed) => void;
}

export function ProblemsPanel({ problems, extra, onPick }: Props) {
  const [open, setOpen] = useState(true);
  const all = [...extra, ...problems];
  const n = all.length;
  return (
    <section className={`problems${n ? " has-problems" : ""}`} aria-labelledby="problems-title">
      <div className="problems-head">
        <h2 id="problems-title" className="panel-title">
          {n === 0 ? "No problems" : `${n} problem${n === 1 ? "" : "s"}`}
        </h2>
        {n > 0 && (
          <button
            type="button"
            className="quiet"
            aria-expanded={open}
            aria-controls="problems-list"
            onClick={() => setOpen(!open)}
          >
            {open ? "Hide" : "Show"}
          </button>
        )}
      </div>
      {n > 0 && open && (
        <ul id="problems-list" className="problems-list">
          {all.map((p, i) => (
            <li key={i}>
              <button type="button" className="problem" onClick={() => onPick(p)}>
                <span className="problem-path mono">{p.path}</span>
                <span className="problem-message">{p.message}</span>
                {p.origin === "server" && <span className="problem-origin">from the server</span>}
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
