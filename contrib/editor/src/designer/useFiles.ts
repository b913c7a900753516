// Import and export of workflow files. An import opens the file as an
// unsaved draft, laid out when it has no positions; its problems show like
// any other. An export is the document without secrets.
// SPDX-License-Identifier: MIT
import { useCallback, useState } from "react";
import { describeParseError, parseJson, type Json } from "../json";
import type { Catalog } from "../workflow/ports";
import type { Placed } from "../workflow/problems";
import { exportText } from "../workflow/export";

export function slug(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "") || "workflow"
  );
}

export function useFiles(
  doc: Json,
  catalog: Catalog,
  name: string,
  opened: (doc: Json, note: string) => void,
  say: (s: string) => void,
) {
  const [problem, setProblem] = useState<Placed | null>(null);

  const importFile = useCallback(
    async (file: File) => {
      const text = await file.text();
      let parsed: Json;
      try {
        parsed = parseJson(text);
      } catch (e) {
        setProblem({
          path: "$",
          code: "not_json",
          origin: "editor",
          rest: [],
          message:
            `${file.name} is not valid JSON (${describeParseError(text, e)}); ` +
            "nothing was imported.",
        });
        say(`${file.name} could not be imported.`);
        return;
      }
      setProblem(null);
      opened(parsed, `Imported ${file.name} as a draft: review it, then save.`);
      say(`Imported ${file.name}.`);
    },
    [opened, say],
  );

  const exportFile = useCallback(() => {
    const blob = new Blob([exportText(doc, catalog)], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = `${slug(name)}.workflow.json`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
    say(`Exported ${a.download}; secret fields are left out.`);
  }, [doc, catalog, name, say]);

  return { importFile, exportFile, problem };
}
