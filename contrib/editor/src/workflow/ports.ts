// The outgoing ports of a node: the node type's fixed ports, plus one
// per route for a type whose config lists routes (flow control), with the
// text a canvas handle shows for each.
// SPDX-License-Identifier: MIT
import type { FieldSpec, NodeType } from "../api/client";
import { isObject, toJson, type Json, type JsonObject } from "../json";
import type { WfConnection, WfNode } from "./doc";

export type PortKind = "route" | "default" | "error" | "next" | "missing";

export interface Port {
  name: string;
  /** Text beside the handle: the route's value, or the port name. */
  label: string;
  kind: PortKind;
}

export type Catalog = Map<string, NodeType>;

export function catalogOf(types: NodeType[]): Catalog {
  return new Map(types.map((t) => [t.type, t]));
}

function itemFields(spec: FieldSpec | undefined): FieldSpec[] {
  const items = spec?.items;
  if (Array.isArray(items)) return items;
  return [];
}

/** The schema field that holds routes: an array of objects with a port. */
export function routesField(type: NodeType | undefined): FieldSpec | undefined {
  return type?.schema.find(
    (f) => f.kind === "array" && itemFields(f).some((i) => i.name === "port"),
  );
}

function valueText(v: Json | undefined): string {
  if (v === undefined) return "";
  return typeof v === "string" ? v : toJson(v, 0);
}

function routeLabel(route: JsonObject): string {
  const name = String(route.port);
  if (route.value !== undefined) return `${name} = ${valueText(route.value)}`;
  if (Array.isArray(route.values)) {
    return `${name} = ${route.values.map(valueText).join(" | ")}`;
  }
  return name;
}

function kindOf(name: string): PortKind {
  if (name === "error") return "error";
  if (name === "default") return "default";
  return "next";
}

/**
 * The ports of `node`. For an unknown type, the ports its connections use,
 * so a workflow naming a missing type still draws its wiring.
 */
export function portsOf(node: WfNode, catalog: Catalog, wires: WfConnection[] = []): Port[] {
  const type = catalog.get(node.type);
  if (!type) {
    const names = [...new Set(wires.filter((c) => c.from === node.id).map((c) => c.port))];
    return names.map((name) => ({ name, label: name, kind: kindOf(name) }));
  }
  const ports: Port[] = [];
  const field = routesField(type);
  const routes = field ? node.config[field.name] : undefined;
  if (Array.isArray(routes)) {
    for (const r of routes) {
      if (isObject(r) && typeof r.port === "string" && r.port !== "") {
        ports.push({ name: r.port, label: routeLabel(r), kind: "route" });
      }
    }
  }
  for (const name of type.ports) {
    if (!ports.some((p) => p.name === name)) {
      ports.push({ name, label: name, kind: kindOf(name) });
    }
  }
  return ports;
}

/**
 * The ports to draw: the node's own, then any port its connections name
 * that it does not have, so that a broken wire still shows (and can go).
 */
export function drawnPorts(node: WfNode, catalog: Catalog, wires: WfConnection[]): Port[] {
  const ports = portsOf(node, catalog, wires);
  for (const w of wires) {
    if (w.from === node.id && !ports.some((p) => p.name === w.port)) {
      ports.push({ name: w.port, label: `${w.port} (no such port)`, kind: "missing" });
    }
  }
  return ports;
}
