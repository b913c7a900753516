// A node-type catalog for unit tests: the built-in types as GET
// /node-types describes them, cut down to the fields the tests touch.
// SPDX-License-Identifier: MIT
import type { FieldSpec, NodeType } from "../../api/client";
import { catalogOf } from "../ports";

function f(name: string, kind: string, extra: Partial<FieldSpec> = {}): FieldSpec {
  return { name, kind, required: false, secret: false, ...extra };
}

const NEXT_ERROR = ["next", "error"];

export const TYPES: NodeType[] = [
  {
    type: "flow_control",
    title: "Flow control",
    description: "",
    builtin: true,
    ports: ["default"],
    schema: [
      f("source", "path", { required: true }),
      f("routes", "array", {
        required: true,
        min: 1,
        items: [
          f("port", "variable", { required: true }),
          f("value", "json"),
          f("values", "array", { items: "json" }),
        ],
      }),
    ],
  },
  {
    type: "transform",
    title: "Transform",
    description: "",
    builtin: true,
    ports: NEXT_ERROR,
    schema: [
      f("template", "template", { required: true, mode_field: "mode" }),
      f("mode", "enum", { enum: ["json", "text"], default: "json" }),
      f("output", "variable", { required: true }),
    ],
  },
  {
    type: "oauth",
    title: "OAuth",
    description: "",
    builtin: true,
    ports: NEXT_ERROR,
    schema: [
      f("token_url", "template", { required: true, mode: "url" }),
      f("client_id", "template", { required: true, mode: "text" }),
      f("client_secret", "template", { required: true, mode: "text", secret: true }),
      f("output", "variable", { default: "token" }),
    ],
  },
  {
    type: "http_request",
    title: "HTTP request",
    description: "",
    builtin: true,
    ports: NEXT_ERROR,
    schema: [
      f("method", "enum", {
        enum: ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"],
        default: "POST",
      }),
      f("url", "template", { required: true, mode: "url" }),
      f("headers", "headers"),
      f("body", "body", { mode: "json" }),
      f("output", "variable", { default: "response" }),
      f("timeout_ms", "integer", { default: 30000, min: 1, max: 600000 }),
    ],
  },
  {
    type: "save_id",
    title: "Save ID",
    description: "",
    builtin: true,
    ports: NEXT_ERROR,
    schema: [
      f("external_id", "path", { required: true }),
      f("unlock", "boolean", { default: true }),
    ],
  },
];

export const CATALOG = catalogOf(TYPES);
