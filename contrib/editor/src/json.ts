// JSON text in and out without loss: integers beyond 2^53 and numbers
// whose text a double cannot hold keep their exact digits, so a workflow
// survives the canvas, the code view and the API byte for byte.
// SPDX-License-Identifier: MIT
import { isSafeNumber, LosslessNumber, parse, stringify } from "lossless-json";

export { LosslessNumber };

export type Json =
  null | boolean | number | string | LosslessNumber | Json[] | { [key: string]: Json };

export type JsonObject = { [key: string]: Json };

function parseNumber(text: string): number | LosslessNumber {
  return isSafeNumber(text) ? Number(text) : new LosslessNumber(text);
}

/** Parses JSON text; throws SyntaxError with a position on bad input. */
export function parseJson(text: string): Json {
  return parse(text, null, parseNumber) as Json;
}

/** Serializes with an indent of `indent` spaces (0 for compact). */
export function toJson(value: Json | undefined, indent = 2): string {
  return stringify(value, undefined, indent || undefined) ?? "null";
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof LosslessNumber);
}

export function sameJson(a: Json | undefined, b: Json | undefined): boolean {
  return toJson(a, 0) === toJson(b, 0);
}

/**
 * Turns a JSON parse error into "line L, column C: reason" for `text`.
 * lossless-json reports a character offset ("at position N").
 */
export function describeParseError(text: string, err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const m = /position (\d+)/.exec(msg) ?? /\(char (\d+)\)/.exec(msg);
  if (!m) return msg;
  const offset = Math.min(Number(m[1]), text.length);
  const before = text.slice(0, offset).split("\n");
  const line = before.length;
  const column = before[before.length - 1].length + 1;
  return `line ${line}, column ${column}: ${msg.replace(/ at position \d+/, "")}`;
}
