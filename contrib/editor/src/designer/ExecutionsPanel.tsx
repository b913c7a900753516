// Executions of the integration, newest first, refreshed while shown.
// Opening one puts its trace on the canvas; a replay runs its share again.
// SPDX-License-Identifier: MIT
import { useCallback, useEffect, useState } from "react";
import type { Execution } from "../api/client";
import { StatusBadge } from "../components/StatusBadge";
import { formatDuration, formatTime } from "../components/time";
import { useApi } from "../context";
import type { TraceView } from "./flowModel";
import { RunSummary } from "./TestPanel";

const POLL_MS = 3000;

interface Props {
  integrationId: string;
  trace: TraceView | null;
  onTrace: (t: TraceView | null) => void;
  onShow: (id: string) => void;
}

export function ExecutionsPanel({ integrationId, trace, onTrace, onShow }: Props) {
  const api = useApi();
  const [list, setList] = useState<Execution[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [said, setSaid] = useState("");

  const load = useCallback(() => {
    api
      .listExecutions(integrationId, 50)
      .then((l) => {
        setList(l);
        setError(null);
      })
      .catch((e: Error) => setError(e.message));
  }, [api, integrationId]);

  useEffect(() => {
    load();
    const t = setInterval(load, POLL_MS);
    return () => clearInterval(t);
  }, [load]);

  async function open(id: number) {
    try {
      const e = await api.getExecution(id);
      onTrace({
        title: `Execution ${e.id}`,
        status: e.status,
        error: e.error,
        entries: e.trace ?? [],
        executionId: e.id,
      });
    } catch (err) {
      setError((err as Error).message);
    }
  }

  async function replay(id: number) {
    try {
      const r = await api.replay(id);
      setSaid(`Execution ${id} replayed as share ${r.share_id}.`);
      load();
    } catch (err) {
      setError((err as Error).message);
    }
  }

  return (
    <div className="executions-panel">
      <div className="panel-head">
        <h2 className="panel-title" id="executions-title">
          Executions
        </h2>
        <button type="button" className="quiet" onClick={load}>
          Refresh
        </button>
      </div>
      <p role="status" className="hint">
        {said}
      </p>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      {list === null ? (
        <p>Loading…</p>
      ) : list.length === 0 ? (
        <p className="empty">No executions yet. They appear when shares arrive.</p>
      ) : (
        <ul className="executions-list" aria-labelledby="executions-title">
          {list.map((e) => (
            <li key={e.id} className={trace?.executionId === e.id ? "current" : ""}>
              <button
                type="button"
                className="execution"
                onClick={() => open(e.id)}
                aria-current={trace?.executionId === e.id || undefined}
              >
                <span className="mono">#{e.id}</span> <StatusBadge status={e.status} />
                <span className="execution-time">{formatTime(e.started_at)}</span>
                <span className="hint">
                  {formatDuration(e.duration_ms)}
                  {e.replay_of ? ` · replay of #${e.replay_of}` : ""}
                  {e.live ? "" : " · dry"}
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {trace?.executionId !== undefined && (
        <>
          <button type="button" onClick={() => replay(trace.executionId!)}>
            Replay execution {trace.executionId}
          </button>
          <RunSummary trace={trace} onClear={() => onTrace(null)} onShow={onShow} />
        </>
      )}
    </div>
  );
}
