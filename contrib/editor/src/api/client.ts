// The typed client for Moonwire's HTTP API under /api/v1: every call the
// editor makes goes through here. It knows the shapes of the answers and
// turns error answers into ApiError; it keeps no state but the token.
// SPDX-License-Identifier: MIT
import { isObject, parseJson, toJson, type Json, type JsonObject } from "../json";

export type IntegrationStatus = "active" | "inactive";

export interface Integration {
  id: string;
  name: string;
  status: IntegrationStatus;
  settings: JsonObject;
  secret_settings: string[];
  /** Present only in the answer that created it or rotated it. */
  app_key?: string;
  workflow_version: number | null;
  created_at: number;
  updated_at: number;
}

export interface IntegrationPatch {
  name?: string;
  status?: IntegrationStatus;
  /** A value of null removes the setting. */
  settings?: Record<string, string | number | boolean | null>;
}

/** One config field of a node type, as GET /node-types describes it. */
export interface FieldSpec {
  name: string;
  kind: string;
  title?: string;
  description?: string;
  required: boolean;
  secret: boolean;
  default?: Json;
  enum?: Json[];
  min?: number;
  max?: number;
  mode?: string;
  mode_field?: string;
  /** Item spec of an array: a field list, one field, or a kind name. */
  items?: FieldSpec[] | FieldSpec | string;
  values?: FieldSpec[] | FieldSpec | string;
}

export interface NodeType {
  type: string;
  title: string;
  description: string;
  schema: FieldSpec[];
  /** The ports for an empty config; flow control adds one per route. */
  ports: string[];
  builtin: boolean;
}

/** A problem with a workflow, as import validation reports it. */
export interface Problem {
  path: string;
  message: string;
  code: string;
  node?: string;
}

export interface TraceRequest {
  method?: string;
  url?: string;
  headers?: JsonObject;
  body?: Json;
  status?: number;
  response?: Json;
  duration_ms?: number;
  error?: Json;
}

export interface TraceEntry {
  id: string;
  type: string;
  input?: Json;
  output?: Json;
  port?: string;
  duration_ms?: number;
  error?: string | null;
  requests?: TraceRequest[];
}

export type ExecutionStatus = "running" | "succeeded" | "failed" | string;

export interface Execution {
  id: number;
  integration_id: string;
  incident: string;
  status: ExecutionStatus;
  error: string | null;
  live: boolean;
  share_id: number | null;
  replay_of: number | null;
  workflow_version: number | null;
  started_at: number;
  finished_at: number | null;
  duration_ms: number | null;
  trace?: TraceEntry[];
}

export interface Share {
  id: number;
  integration_id: string;
  incident: string;
  status: string;
  /** Not every server returns the payload. */
  body?: string;
}

export interface TestResult {
  status: ExecutionStatus;
  error: string | null;
  live: boolean;
  duration_ms: number;
  trace: TraceEntry[];
}

export interface Variable {
  path: string;
  source: "share" | "moonwire" | "setting" | "node" | string;
  node?: string;
}

export interface WorkflowVersion {
  version: number;
  bytes: number;
  created_at: number;
}

export interface GenerateResult {
  workflow: Json;
  /** What the generator did, as sentences. */
  explanation?: string | string[];
  warnings?: string[];
}

/** An answer other than 2xx; `problems` holds a 422's workflow errors. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly problems: Problem[] = [],
  ) {
    super(message);
    this.name = "ApiError";
  }
}

const BASE = "/api/v1";

function errorFrom(status: number, body: Json): ApiError {
  if (isObject(body) && Array.isArray(body.errors)) {
    const problems = body.errors as unknown as Problem[];
    const n = problems.length;
    return new ApiError(
      status,
      "E_WORKFLOW",
      `The workflow has ${n} ` + `problem${n === 1 ? "" : "s"}.`,
      problems,
    );
  }
  if (isObject(body) && isObject(body.error)) {
    const e = body.error;
    return new ApiError(status, String(e.code ?? "E_HTTP"), String(e.message ?? ""));
  }
  return new ApiError(status, "E_HTTP", `The server answered HTTP ${status}.`);
}

export class Api {
  /** Called with every 401, so the app can ask for the token again. */
  onUnauthorized: (() => void) | null = null;

  constructor(private readonly token: string) {}

  private async call(
    method: string,
    path: string,
    body?: Json,
  ): Promise<{ json: Json; headers: Headers }> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(BASE + path, {
        method,
        headers,
        body: body === undefined ? undefined : toJson(body, 0),
      });
    } catch {
      throw new ApiError(0, "E_NETWORK", "Moonwire cannot be reached: is the daemon running?");
    }
    const text = await res.text();
    let json: Json = null;
    if (text.trim() !== "") {
      try {
        json = parseJson(text);
      } catch {
        throw new ApiError(res.status, "E_BAD_ANSWER", "The server's answer is not JSON.");
      }
    }
    if (res.status === 401) this.onUnauthorized?.();
    if (!res.ok) throw errorFrom(res.status, json);
    return { json, headers: res.headers };
  }

  private async get<T>(path: string): Promise<T> {
    return (await this.call("GET", path)).json as unknown as T;
  }

  private async send<T>(method: string, path: string, body?: Json): Promise<T> {
    return (await this.call(method, path, body)).json as unknown as T;
  }

  // ---- integrations ----

  async listIntegrations(): Promise<Integration[]> {
    return (await this.get<{ integrations: Integration[] }>("/integrations")).integrations;
  }

  getIntegration(id: string): Promise<Integration> {
    return this.get(`/integrations/${enc(id)}`);
  }

  createIntegration(name: string): Promise<Integration> {
    return this.send("POST", "/integrations", { name });
  }

  patchIntegration(id: string, patch: IntegrationPatch): Promise<Integration> {
    return this.send("PATCH", `/integrations/${enc(id)}`, patch as unknown as Json);
  }

  async deleteIntegration(id: string): Promise<void> {
    await this.call("DELETE", `/integrations/${enc(id)}`);
  }

  rotateAppKey(id: string): Promise<Integration> {
    return this.send("POST", `/integrations/${enc(id)}/app-key`, {});
  }

  // ---- workflows ----

  /** The stored workflow, or null when the integration has none yet. */
  async getWorkflow(id: string): Promise<{ doc: Json; version: number } | null> {
    try {
      const { json, headers } = await this.call("GET", `/integrations/${enc(id)}/workflow`);
      return { doc: json, version: Number(headers.get("X-Workflow-Version") ?? 0) };
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && e.code === "E_NO_WORKFLOW") return null;
      throw e;
    }
  }

  /** Stores a new version; a 422 throws ApiError with `problems`. */
  async putWorkflow(id: string, doc: Json): Promise<number> {
    const r = await this.send<{ version: number }>("PUT", `/integrations/${enc(id)}/workflow`, doc);
    return r.version;
  }

  async listVersions(id: string): Promise<WorkflowVersion[]> {
    const r = await this.get<{ versions: WorkflowVersion[] }>(
      `/integrations/${enc(id)}/workflow/versions`,
    );
    return r.versions;
  }

  // ---- runs ----

  testRun(id: string, share: Json, workflow: Json, live: boolean): Promise<TestResult> {
    return this.send("POST", `/integrations/${enc(id)}/test`, { share, workflow, live });
  }

  async listExecutions(integration: string, limit = 50): Promise<Execution[]> {
    const q = `integration=${enc(integration)}&limit=${limit}`;
    return (await this.get<{ executions: Execution[] }>(`/executions?${q}`)).executions;
  }

  getExecution(id: number): Promise<Execution> {
    return this.get(`/executions/${id}`);
  }

  replay(id: number): Promise<{ share_id: number; replay_of: number }> {
    return this.send("POST", `/executions/${id}/replay`, {});
  }

  getShare(id: number): Promise<Share> {
    return this.get(`/shares/${id}`);
  }

  // ---- catalog, variables, generation ----

  async nodeTypes(): Promise<NodeType[]> {
    return (await this.get<{ node_types: NodeType[] }>("/node-types")).node_types;
  }

  async variables(id: string, node?: string): Promise<Variable[]> {
    const q = node ? `?node=${enc(node)}` : "";
    const r = await this.get<{ variables: Variable[] }>(`/integrations/${enc(id)}/variables${q}`);
    return r.variables;
  }

  /** A draft workflow from a prompt; ApiError 404 where there is no generator. */
  async generate(prompt: string): Promise<GenerateResult> {
    const r = await this.send<Json>("POST", "/generate", { prompt });
    if (isObject(r) && r.workflow !== undefined) return r as unknown as GenerateResult;
    return { workflow: r };
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

/** Checks a token by listing integrations; false when it is refused. */
export async function checkToken(token: string): Promise<boolean> {
  try {
    await new Api(token).listIntegrations();
    return true;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return false;
    throw e;
  }
}
