// A read-only value with a button that copies it to the clipboard.
// SPDX-License-Identifier: MIT
import { useId, useRef, useState } from "react";

async function copyText(text: string, input: HTMLInputElement | null): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // no clipboard API (plain http on a non-local host): select and copy
    input?.select();
    return document.execCommand("copy");
  }
}

export function CopyField({ label, value }: { label: string; value: string }) {
  const id = useId();
  const input = useRef<HTMLInputElement>(null);
  const [state, setState] = useState<"" | "copied" | "failed">("");
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <div className="copy-row">
        <input
          id={id}
          ref={input}
          readOnly
          value={value}
          className="mono"
          onFocus={(e) => e.currentTarget.select()}
        />
        <button
          type="button"
          onClick={async () =>
            setState((await copyText(value, input.current)) ? "copied" : "failed")
          }
        >
          Copy<span className="visually-hidden"> {label}</span>
        </button>
      </div>
      <span className="hint" role="status">
        {state === "copied"
          ? "Copied."
          : state === "failed"
            ? "Copy failed: select and copy by hand."
            : ""}
      </span>
    </div>
  );
}
