// Test runs: the workflow as it is in the editor, run on a sample share,
// dry (requests are built but not sent) or live. The trace shows on the
// canvas and below, node by node.
// SPDX-License-Identifier: MIT
import { useEffect, useState } from "react";
import type { Execution, Share } from "../api/client";
import { StatusBadge } from "../components/StatusBadge";
import { formatDuration, formatTime } from "../components/time";
import { useApi } from "../context";
import { describeParseError, parseJson, toJson, type Json } from "../json";
import type { TraceView } from "./flowModel";
import { TraceList } from "./RunDetails";

export const SAMPLE_SHARE = `{
  "incident": {
    "id": "sample-incident-1",
    "status": "critical",
    "active": true,
    "severity": "critical",
    "start": 1717236000,
    "incident_tags": [],
    "alerts": [
      {
        "description": "Disk almost full on db-1",
        "status": "critical",
        "tags": [{ "name": "host", "value": "db-1" }]
      }
    ]
  },
  "metadata": { "event_type": "incident#new", "incident_id": "sample-incident-1" }
}
`;

/** A stored share's payload, when the server sends it back (as text or JSON). */
function payloadOf(share: Share): Json | null {
  const body = (share as { body?: Json }).body;
  if (typeof body === "string") {
    try {
      return parseJson(body);
    } catch {
      return null;
    }
  }
  return body === undefined || body === null ? null : body;
}

interface Props {
  integrationId: string;
  doc: Json;
  /** problems the editor already sees in the workflow: no run until fixed */
  problemCount: number;
  trace: TraceView | null;
  onTrace: (t: TraceView | null) => void;
  onShow: (id: string) => void;
}

export function TestPanel({ integrationId, doc, problemCount, trace, onTrace, onShow }: Props) {
  const api = useApi();
  const [share, setShare] = useState(SAMPLE_SHARE);
  const [live, setLive] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [recent, setRecent] = useState<Execution[]>([]);

  // Recent shares are offered only when the server gives their payloads
  // back: the first one is asked for to find out.
  useEffect(() => {
    let live = true;
    api
      .listExecutions(integrationId, 10)
      .then(async (list) => {
        const withShare = list.filter((e) => e.share_id !== null);
        if (withShare.length === 0) return;
        const first = await api.getShare(withShare[0].share_id!);
        if (live && payloadOf(first) !== null) setRecent(withShare);
      })
      .catch(() => setRecent([]));
    return () => {
      live = false;
    };
  }, [api, integrationId]);

  async function loadRecent(shareId: number) {
    setError(null);
    try {
      const body = payloadOf(await api.getShare(shareId));
      if (body !== null) setShare(toJson(body, 2));
      else setError("This share's payload is no longer kept: paste one instead.");
    } catch (e) {
      setError((e as Error).message);
    }
  }

  async function run() {
    if (problemCount > 0) {
      setError(
        `The workflow has ${problemCount} problem${problemCount === 1 ? "" : "s"}: ` +
          "fix them (see the list on the canvas) before a test run.",
      );
      return;
    }
    let value: Json;
    try {
      value = parseJson(share);
    } catch (e) {
      setError(`The sample share is not valid JSON: ${describeParseError(share, e)}`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const r = await api.testRun(integrationId, value, doc, live);
      if (!r) throw new Error("The server returned no result for the test run.");
      onTrace({
        title: `${live ? "Live" : "Dry"} test run`,
        status: r.status,
        error: r.error,
        entries: r.trace ?? [],
      });
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  }

  const shares = recent;
  return (
    <div className="test-panel">
      <div className="field">
        <label htmlFor="test-share">Sample share (JSON)</label>
        <textarea
          id="test-share"
          className="mono"
          rows={10}
          spellCheck={false}
          value={share}
          onChange={(e) => setShare(e.target.value)}
        />
      </div>
      {shares.length > 0 && (
        <div className="field">
          <label htmlFor="test-recent">Or load a recent share</label>
          <select
            id="test-recent"
            value=""
            onChange={(e) => e.target.value && loadRecent(Number(e.target.value))}
          >
            <option value="">Choose…</option>
            {shares.map((e) => (
              <option key={e.id} value={e.share_id!}>
                Share {e.share_id} · {e.incident} · {formatTime(e.started_at)}
              </option>
            ))}
          </select>
        </div>
      )}
      <fieldset className="radio-row">
        <legend>Mode</legend>
        <label>
          <input type="radio" name="test-mode" checked={!live} onChange={() => setLive(false)} />
          Dry run: build requests, send nothing
        </label>
        <label>
          <input type="radio" name="test-mode" checked={live} onChange={() => setLive(true)} />
          Live: send the requests
        </label>
      </fieldset>
      <button type="button" className="primary" onClick={run} disabled={busy}>
        {busy ? "Running…" : "Run test"}
      </button>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      {trace && !trace.executionId && (
        <RunSummary trace={trace} onClear={() => onTrace(null)} onShow={onShow} />
      )}
    </div>
  );
}

export function RunSummary({
  trace,
  onClear,
  onShow,
}: {
  trace: TraceView;
  onClear: () => void;
  onShow: (id: string) => void;
}) {
  const total = trace.entries.reduce((s, e) => s + (e.duration_ms ?? 0), 0);
  return (
    <section className="run-summary" aria-label={`${trace.title} result`}>
      <div className="panel-head">
        <h3>
          {trace.title} <StatusBadge status={trace.status} />
        </h3>
        <button type="button" className="quiet" onClick={onClear}>
          Clear from canvas
        </button>
      </div>
      <p className="hint">
        {trace.entries.length} nodes ran in {formatDuration(total)}.
      </p>
      {trace.error && <p className="field-error run-error">{trace.error}</p>}
      <TraceList entries={trace.entries} onShow={onShow} />
    </section>
  );
}
