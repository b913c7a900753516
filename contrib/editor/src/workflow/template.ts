// A light reading of Handlebars-style templates for the editor: tokens for
// syntax highlighting, a quick check of braces and blocks for inline
// messages, and the variable being typed for autocompletion. The server's
// template compiler stays the judge; this only spares a round trip.
// SPDX-License-Identifier: MIT

export type TokenKind =
  | "text"
  | "brace"
  | "keyword"
  | "helper"
  | "path"
  | "string"
  | "number"
  | "comment"
  | "punct"
  | "bad";

export interface Token {
  kind: TokenKind;
  text: string;
}

const HELPERS = new Set([
  "json",
  "default",
  "eq",
  "ne",
  "lt",
  "gt",
  "lte",
  "gte",
  "and",
  "or",
  "not",
  "upper",
  "lower",
  "trim",
  "replace",
  "join",
  "date",
  "concat",
  "truncate",
  "lookup",
  "log",
  "length",
  "raw",
  "escape",
  "substring",
  "split",
  "first",
  "last",
]);

interface Mustache {
  start: number;
  end: number; // index after the closing braces, or text.length if unclosed
  closed: boolean;
  open: string; // "{{", "{{{", "{{!--", ...
  body: string;
}

function closerFor(open: string): string {
  if (open.startsWith("{{!--")) return "--}}";
  if (open.startsWith("{{{")) return "}}}";
  return "}}";
}

function readMustache(text: string, start: number): Mustache {
  let open = text.startsWith("{{{", start) ? "{{{" : "{{";
  if (text.startsWith("{{!--", start)) open = "{{!--";
  else if (open === "{{" && text[start + 2] === "~") open = "{{~";
  const close = closerFor(open);
  const at = text.indexOf(close, start + open.length);
  if (at < 0) {
    return { start, end: text.length, closed: false, open, body: text.slice(start + open.length) };
  }
  return {
    start,
    end: at + close.length,
    closed: true,
    open,
    body: text.slice(start + open.length, at),
  };
}

function* mustaches(text: string): Generator<Mustache> {
  let i = text.indexOf("{{");
  while (i >= 0) {
    const m = readMustache(text, i);
    yield m;
    i = text.indexOf("{{", m.end);
  }
}

// The parts of a mustache's body, one capture group each, in this order.
const BODY_TOKEN = [
  /(\s+)/, // 1 spaces
  /("(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?)/, // 2 a string, maybe unclosed
  /(-?\d+(?:\.\d+)?(?![\w.]))/, // 3 a number
  /([#/^&>]|~|else\b)/, // 4 block marks and else
  /([@A-Za-z_.][\w.@\-/]*(?:\.\[[^\]]*\][\w.]*)*|\.\.\/|\[[^\]]*\])/, // 5 a name or path
  /([()=|]|.)/, // 6 anything else
]
  .map((r) => r.source)
  .join("|");

function bodyTokens(body: string): Token[] {
  const out: Token[] = [];
  const re = new RegExp(BODY_TOKEN, "g");
  let m: RegExpExecArray | null;
  let words = 0;
  let afterHash = false;
  while ((m = re.exec(body)) !== null) {
    if (m[1]) out.push({ kind: "text", text: m[1] });
    else if (m[2]) out.push({ kind: "string", text: m[2] });
    else if (m[3]) out.push({ kind: "number", text: m[3] });
    else if (m[4]) {
      out.push({ kind: m[4] === "~" ? "brace" : "keyword", text: m[4] });
      afterHash = m[4] === "#" || m[4] === "/";
    } else if (m[5]) {
      const first = words === 0;
      words++;
      const kind: TokenKind =
        afterHash || (first && HELPERS.has(m[5]))
          ? "keyword"
          : first && /\s\S/.test(body.slice(re.lastIndex))
            ? "helper"
            : "path";
      out.push({ kind, text: m[5] });
      afterHash = false;
    } else out.push({ kind: "punct", text: m[6] });
  }
  return out;
}

/** Splits a template into tokens whose texts join back to it exactly. */
export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let pos = 0;
  for (const m of mustaches(text)) {
    if (m.start > pos) out.push({ kind: "text", text: text.slice(pos, m.start) });
    if (!m.closed) {
      out.push({ kind: "bad", text: text.slice(m.start) });
      return out;
    }
    const close = closerFor(m.open);
    if (m.open === "{{!--" || m.body.startsWith("!")) {
      out.push({ kind: "comment", text: text.slice(m.start, m.end) });
    } else {
      out.push({ kind: "brace", text: m.open });
      out.push(...bodyTokens(m.body));
      out.push({ kind: "brace", text: close });
    }
    pos = m.end;
  }
  if (pos < text.length) out.push({ kind: "text", text: text.slice(pos) });
  return out;
}

function lineCol(text: string, offset: number): string {
  const before = text.slice(0, offset).split("\n");
  return `line ${before.length}, column ${before[before.length - 1].length + 1}`;
}

/** A sentence about the first structural mistake, or null when none is seen. */
export function checkTemplate(text: string): string | null {
  const blocks: { name: string; at: number }[] = [];
  for (const m of mustaches(text)) {
    if (!m.closed) return `The "${m.open}" at ${lineCol(text, m.start)} is never closed.`;
    const body = m.body.replace(/^~/, "").replace(/~$/, "").trim();
    if (m.open === "{{!--" || body.startsWith("!")) continue;
    if (body === "") return `There is an empty "{{}}" at ${lineCol(text, m.start)}.`;
    const open = /^#\*?\s*([\w-]+)/.exec(body);
    const close = /^\/\s*([\w-]+)/.exec(body);
    if (open) blocks.push({ name: open[1], at: m.start });
    else if (close) {
      const top = blocks.pop();
      if (!top) return `"{{/${close[1]}}}" at ${lineCol(text, m.start)} closes no block.`;
      if (top.name !== close[1]) {
        return (
          `"{{/${close[1]}}}" at ${lineCol(text, m.start)} should close ` +
          `"{{#${top.name}}}" first.`
        );
      }
    } else if (/^else\b/.test(body) && blocks.length === 0) {
      return `"{{else}}" at ${lineCol(text, m.start)} is outside a block.`;
    }
  }
  const open = blocks.pop();
  if (open) return `"{{#${open.name}}}" at ${lineCol(text, open.at)} is never closed.`;
  return null;
}

/**
 * The variable path being typed at `caret`, when the caret is inside an
 * open "{{": its text so far and where it starts. Null elsewhere.
 */
export function typedVariable(
  text: string,
  caret: number,
): { start: number; prefix: string } | null {
  const before = text.slice(0, caret);
  const open = before.lastIndexOf("{{");
  if (open < 0 || before.lastIndexOf("}}") > open) return null;
  const m = /[@\w.[\]]*$/.exec(before);
  const start = caret - (m ? m[0].length : 0);
  if (start < open + 2) return null;
  return { start, prefix: before.slice(start) };
}
