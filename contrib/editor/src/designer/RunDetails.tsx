// What one node did in a run: the port it took, how long it took, its
// error, its output and the requests it sent with their answers.
// SPDX-License-Identifier: MIT
import type { TraceEntry, TraceRequest } from "../api/client";
import { formatDuration } from "../components/time";
import { parseJson, toJson, type Json } from "../json";

function pretty(v: Json | undefined): string {
  if (typeof v === "string") {
    try {
      return toJson(parseJson(v), 2);
    } catch {
      return v;
    }
  }
  return toJson(v ?? null, 2);
}

function Block({ label, value }: { label: string; value: Json | undefined }) {
  if (value === undefined) return null;
  return (
    <div className="run-block">
      <h4>{label}</h4>
      <pre className="json-block" tabIndex={0} aria-label={label}>
        {pretty(value)}
      </pre>
    </div>
  );
}

function RequestView({ r, n }: { r: TraceRequest; n: number }) {
  const ok = r.status !== undefined && r.status >= 200 && r.status < 300;
  return (
    <details className="request">
      <summary>
        Request {n}:{" "}
        <span className="mono">
          {r.method} {r.url}
        </span>{" "}
        <span className={ok ? "ok-text" : "bad-text"}>
          {r.status !== undefined ? `HTTP ${r.status}` : "no answer"}
        </span>
        {r.duration_ms !== undefined && ` · ${formatDuration(r.duration_ms)}`}
      </summary>
      <Block label={`Request ${n} headers`} value={r.headers} />
      <Block label={`Request ${n} body`} value={r.body} />
      <Block label={`Response ${n}`} value={r.response} />
      {r.error !== undefined && r.error !== null && (
        <Block label={`Error of request ${n}`} value={r.error} />
      )}
    </details>
  );
}

export function RunDetails({ entry }: { entry: TraceEntry }) {
  return (
    <div className="run-details">
      <p>
        {entry.error ? (
          <strong className="bad-text">Failed</strong>
        ) : (
          <strong className="ok-text">Succeeded</strong>
        )}
        {entry.port && (
          <>
            {" "}
            · left by port <span className="mono">{entry.port}</span>
          </>
        )}
        {entry.duration_ms !== undefined && <> · {formatDuration(entry.duration_ms)}</>}
      </p>
      {entry.error && <p className="field-error run-error">{entry.error}</p>}
      {(entry.requests ?? []).map((r, i) => (
        <RequestView key={i} r={r} n={i + 1} />
      ))}
      <Block label="Output" value={entry.output} />
      <details>
        <summary>Input config</summary>
        <Block label="Input config" value={entry.input} />
      </details>
    </div>
  );
}

interface ListProps {
  entries: TraceEntry[];
  onShow: (id: string) => void;
}

/** Every node of a run, in the order they ran. */
export function TraceList({ entries, onShow }: ListProps) {
  if (entries.length === 0) return <p className="empty">No node ran.</p>;
  return (
    <ol className="trace-list">
      {entries.map((e, i) => (
        <li key={`${e.id}-${i}`} className={e.error ? "trace-failed" : "trace-ok"}>
          <details open={!!e.error}>
            <summary>
              <span aria-hidden="true">{e.error ? "✗" : "✓"} </span>
              <span className="mono">{e.id}</span> <span className="hint">{e.type}</span>
              {e.port && (
                <>
                  {" "}
                  → <span className="mono">{e.port}</span>
                </>
              )}
              <span className="visually-hidden">{e.error ? " failed" : " succeeded"}</span>
            </summary>
            <button type="button" className="quiet" onClick={() => onShow(e.id)}>
              Select on canvas<span className="visually-hidden"> {e.id}</span>
            </button>
            <RunDetails entry={e} />
          </details>
        </li>
      ))}
    </ol>
  );
}
