// The list of variable suggestions under a field, as an ARIA listbox the
// field controls: arrows move, Enter or Tab take, Escape closes.
// SPDX-License-Identifier: MIT
import type { Variable } from "../api/client";

interface Props {
  id: string;
  options: Variable[];
  active: number;
  onPick: (v: Variable) => void;
}

export function optionId(listId: string, i: number): string {
  return `${listId}-opt-${i}`;
}

export function Suggestions({ id, options, active, onPick }: Props) {
  return (
    <ul className="suggestions" role="listbox" id={id} aria-label="Variables">
      {options.map((v, i) => (
        <li
          key={v.path}
          id={optionId(id, i)}
          role="option"
          aria-selected={i === active}
          className={i === active ? "active" : ""}
          onMouseDown={(e) => {
            e.preventDefault();
            onPick(v);
          }}
        >
          <span className="mono">{v.path}</span>
          <span className="suggestion-source">{v.source}</span>
        </li>
      ))}
    </ul>
  );
}

/**
 * Key handling shared by fields with suggestions. Returns the new active
 * index, "pick", "close", or null when the key is not for the list.
 */
export function suggestionKey(
  key: string,
  active: number,
  count: number,
): number | "pick" | "close" | null {
  if (count === 0) return null;
  if (key === "ArrowDown") return (active + 1) % count;
  if (key === "ArrowUp") return (active - 1 + count) % count;
  if (key === "Enter" || key === "Tab") return "pick";
  if (key === "Escape") return "close";
  return null;
}
