// Unit tests of the editor's template reading: tokens, quick checks and
// the variable being typed.
// SPDX-License-Identifier: MIT
import { describe, expect, it } from "vitest";
import { checkTemplate, tokenize, typedVariable } from "./template";

describe("tokenize", () => {
  const samples = [
    "plain text",
    "{{incident.id}} and {{{raw}}}",
    '{{#if a.b}}{{json c "x" 2}}{{else}}{{d}}{{/if}}',
    "{{!-- note --}}{{! short }}{{~ trimmed ~}}",
    "{{unclosed",
  ];

  it("gives back the text exactly when its tokens are joined", () => {
    for (const s of samples)
      expect(
        tokenize(s)
          .map((t) => t.text)
          .join(""),
      ).toBe(s);
  });

  it("tells paths, keywords, helpers and strings apart", () => {
    const kinds = tokenize('{{#if a.b}}{{json c "x"}}{{/if}}')
      .filter((t) => t.kind !== "text" && t.kind !== "brace")
      .map((t) => [t.kind, t.text]);
    expect(kinds).toEqual([
      ["keyword", "#"],
      ["keyword", "if"],
      ["path", "a.b"],
      ["keyword", "json"],
      ["path", "c"],
      ["string", '"x"'],
      ["keyword", "/"],
      ["keyword", "if"],
    ]);
  });

  it("marks an unclosed mustache", () => {
    expect(tokenize("a {{b").at(-1)).toEqual({ kind: "bad", text: "{{b" });
  });
});

describe("checkTemplate", () => {
  it("accepts well formed templates", () => {
    expect(checkTemplate("{{#each a}}{{@index}}{{else}}none{{/each}} {{json x}}")).toBeNull();
  });

  it("names the line and column of the mistake", () => {
    expect(checkTemplate("ok\n  {{x")).toBe('The "{{" at line 2, column 3 is never closed.');
    expect(checkTemplate("{{#if a}}")).toBe('"{{#if}}" at line 1, column 1 is never closed.');
    expect(checkTemplate("{{#if a}}{{/each}}")).toMatch(/should close "\{\{#if\}\}" first/);
    expect(checkTemplate("{{else}}")).toMatch(/outside a block/);
  });
});

describe("typedVariable", () => {
  it("finds the path being typed inside an open mustache", () => {
    expect(typedVariable("x {{incident.st", 15)).toEqual({ start: 4, prefix: "incident.st" });
    expect(typedVariable("{{#if meta", 10)).toEqual({ start: 6, prefix: "meta" });
  });

  it("finds nothing outside one", () => {
    expect(typedVariable("{{a}} b", 7)).toBeNull();
    expect(typedVariable("plain", 5)).toBeNull();
  });
});
