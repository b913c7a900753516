// Unit tests of the workflow model: lossless JSON, edits, ports,
// validation, problem placement, layout and export.
// SPDX-License-Identifier: MIT
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseJson, toJson, type Json, type JsonObject } from "../json";
import { connectionsOf, nodesOf, positionsOf } from "./doc";
import { addNode, connect, removeNodes, renameNode, setField } from "./edit";
import { exportText, keptSecrets } from "./export";
import { autoLayout } from "./layout";
import { portsOf } from "./ports";
import { indexProblems } from "./problems";
import { CATALOG } from "./testing/catalog";
import { validateWorkflow } from "./validate";

const EXAMPLE_TEXT = readFileSync(
  new URL("../../../examples/oauth-create-update.json", import.meta.url),
  "utf8",
);
const example = () => parseJson(EXAMPLE_TEXT) as JsonObject;

describe("JSON text", () => {
  it("keeps integers beyond 2^53 and odd number texts exactly", () => {
    const text = '{"a":12345678901234567890123,"b":1.5,"c":[1e400]}';
    expect(toJson(parseJson(text), 0)).toBe(text);
  });

  it("round-trips the reference example unchanged", () => {
    expect(toJson(parseJson(EXAMPLE_TEXT), 2)).toBe(
      JSON.stringify(JSON.parse(EXAMPLE_TEXT), null, 2),
    );
  });
});

describe("edits", () => {
  it("keep keys they do not know, anywhere", () => {
    const doc = { ...example(), extra: { keep: true } } as JsonObject;
    const r = addNode(doc, "transform", "T", { x: 1.4, y: 2.6 });
    expect(r.id).toBe("transform");
    expect(r.doc.extra).toEqual({ keep: true });
    expect(positionsOf(r.doc).transform).toEqual({ x: 1, y: 3 });
  });

  it("wire one port to one node, replacing an earlier wire", () => {
    let doc: Json = connect(example(), "create", "next", "update");
    doc = connect(doc, "create", "next", "save");
    const from = connectionsOf(doc).filter((c) => c.from === "create" && c.port === "next");
    expect(from.map((c) => c.to)).toEqual(["save"]);
  });

  it("remove a node with its wires and position", () => {
    const doc = removeNodes(example(), ["route"]);
    expect(nodesOf(doc).map((n) => n.id)).not.toContain("route");
    expect(connectionsOf(doc).some((c) => c.from === "route" || c.to === "route")).toBe(false);
    expect(positionsOf(doc).route).toBeUndefined();
  });

  it("rename a node everywhere it is used", () => {
    const doc = renameNode(example(), "route", "branch");
    expect(connectionsOf(doc).filter((c) => c.from === "branch")).toHaveLength(2);
    expect(connectionsOf(doc).some((c) => c.to === "branch")).toBe(true);
    expect(positionsOf(doc).branch).toEqual({ x: 260, y: 160 });
  });
});

describe("ports", () => {
  it("give flow control one port per route, labelled with its value, then default", () => {
    const route = nodesOf(example()).find((n) => n.id === "route")!;
    expect(portsOf(route, CATALOG).map((p) => [p.name, p.label, p.kind])).toEqual([
      ["new", "new = true", "route"],
      ["update", "update = false", "route"],
      ["default", "default", "default"],
    ]);
  });

  it("mark the error port", () => {
    const create = nodesOf(example()).find((n) => n.id === "create")!;
    expect(portsOf(create, CATALOG).map((p) => p.kind)).toEqual(["next", "error"]);
  });
});

describe("validation", () => {
  it("finds nothing wrong with the reference example", () => {
    expect(validateWorkflow(example(), CATALOG)).toEqual([]);
  });

  it("reports every problem with its path", () => {
    const doc = example();
    const nodes = doc.nodes as JsonObject[];
    delete (nodes[2].config as JsonObject).output;
    nodes[3].type = "http_requst";
    (doc.connections as JsonObject[])[1].port = "nwe";
    doc.conections = [];
    const got = validateWorkflow(doc, CATALOG).map((p) => [p.path, p.code]);
    expect(got).toEqual([
      ["$.conections", "unknown_key"],
      ["$.nodes[2].config.output", "missing"],
      ["$.nodes[3].type", "unknown_type"],
      ["$.connections[1].port", "no_such_port"],
    ]);
  });

  it("reports loops, several starts and unreachable nodes", () => {
    let doc: Json = connect(example(), "save", "next", "route");
    expect(validateWorkflow(doc, CATALOG).map((p) => p.code)).toContain("cycle");
    doc = removeNodes(example(), ["route"]);
    expect(validateWorkflow(doc, CATALOG).map((p) => p.code)).toContain("many_starts");
  });

  it("checks templates, enums, numbers and flow control's own rules", () => {
    let doc: Json = setField(example(), "build_update", "template", "{{#if a}}x");
    doc = setField(doc, "create", "method", "FETCH");
    doc = setField(doc, "create", "timeout_ms", 0);
    doc = setField(doc, "route", "routes", [{ port: "default", value: 1, values: [2] }]);
    const codes = validateWorkflow(doc, CATALOG).map((p) => p.code);
    expect(codes).toEqual(
      expect.arrayContaining(["bad_template", "not_in_enum", "too_small", "invalid"]),
    );
  });

  it("lets a stored secret stay out of a saved node", () => {
    const doc = setField(example(), "auth", "client_secret", undefined);
    expect(validateWorkflow(doc, CATALOG).map((p) => p.path)).toEqual([
      "$.nodes[0].config.client_secret",
    ]);
    const kept = keptSecrets(doc, CATALOG);
    expect(validateWorkflow(doc, CATALOG, kept)).toEqual([]);
  });
});

describe("problems", () => {
  it("land on the node, the field and the wire their paths name", () => {
    const doc = example();
    const index = indexProblems(
      doc,
      [
        { path: "$.nodes[3].config.headers.Accept", code: "x", message: "m" },
        { path: "$.connections[1].port", code: "x", message: "m" },
      ],
      null,
      [],
    );
    expect(index.all[0]).toMatchObject({ nodeId: "create", field: "headers", rest: ["Accept"] });
    expect(index.all[1]).toMatchObject({ nodeId: "route", edge: "route:new" });
    expect([...index.edges]).toEqual(["route:new"]);
  });
});

describe("layout", () => {
  it("places nodes left to right along the flow", () => {
    const pos = autoLayout(example(), CATALOG);
    expect(Object.keys(pos).sort()).toEqual(
      nodesOf(example())
        .map((n) => n.id)
        .sort(),
    );
    expect(pos.auth.x).toBeLessThan(pos.route.x);
    expect(pos.route.x).toBeLessThan(pos.build_create.x);
    expect(pos.create.x).toBeLessThan(pos.save.x);
  });
});

describe("export", () => {
  it("keeps a secret field that only names a setting", () => {
    const text = exportText(example(), CATALOG);
    expect(text).toContain('"client_secret": "{{integration.client_secret}}"');
    const literal = setField(example(), "auth", "client_secret", "hunter2");
    expect(exportText(literal, CATALOG)).not.toContain("client_secret");
  });

  it("orders keys canonically, sorts the rest and drops secrets", () => {
    const doc = parseJson(`{"editor":{"positions":{"b":{"y":2,"x":1},"a":{"x":0,"y":0}}},
      "connections":[{"to":"b","from":"a","port":"next"}],"format":1,
      "nodes":[{"config":{"output":"token","client_secret":"s","client_id":"i",
        "token_url":"u"},"type":"oauth","id":"a"},{"id":"b","type":"save_id",
        "config":{"unlock":false,"external_id":"token.x"}}]}`);
    expect(exportText(doc, CATALOG)).toBe(`{
  "format": 1,
  "nodes": [
    {
      "id": "a",
      "type": "oauth",
      "config": {
        "token_url": "u",
        "client_id": "i",
        "output": "token"
      }
    },
    {
      "id": "b",
      "type": "save_id",
      "config": {
        "external_id": "token.x",
        "unlock": false
      }
    }
  ],
  "connections": [
    {
      "from": "a",
      "port": "next",
      "to": "b"
    }
  ],
  "editor": {
    "positions": {
      "a": {
        "x": 0,
        "y": 0
      },
      "b": {
        "x": 1,
        "y": 2
      }
    }
  }
}
`);
  });
});
