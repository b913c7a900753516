// The code view's state: the JSON text being edited and whether it is
// shown. Text the user has not touched follows the document (undo); text
// that was edited goes back only when it parses.
// SPDX-License-Identifier: MIT
import { useCallback, useEffect, useRef, useState } from "react";
import { describeParseError, parseJson, toJson, type Json } from "../json";

export interface CodeViewState {
  view: "canvas" | "code";
  text: string;
  error: string | null;
  setText: (t: string) => void;
  enter: () => void;
  /** Applies edited text; false (with an error shown) when it does not parse. */
  apply: (leave: boolean) => boolean;
  leave: () => void;
}

export function useCodeView(doc: Json, onApply: (doc: Json) => void): CodeViewState {
  const [view, setView] = useState<"canvas" | "code">("canvas");
  const [text, setTextState] = useState("");
  const [error, setError] = useState<string | null>(null);
  const shown = useRef("");

  useEffect(() => {
    if (view !== "code" || text !== shown.current) return;
    const t = toJson(doc, 2);
    shown.current = t;
    setTextState(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [doc, view]);

  const enter = useCallback(() => {
    const t = toJson(doc, 2);
    shown.current = t;
    setTextState(t);
    setError(null);
    setView("code");
  }, [doc]);

  const apply = useCallback(
    (leave: boolean) => {
      if (text !== shown.current) {
        let parsed: Json;
        try {
          parsed = parseJson(text);
        } catch (e) {
          setError(`The JSON does not parse, at ${describeParseError(text, e)}. Fix it to go on.`);
          return false;
        }
        shown.current = text;
        onApply(parsed);
      }
      setError(null);
      if (leave) setView("canvas");
      return true;
    },
    [text, onApply],
  );

  return { view, text, error, setText: setTextState, enter, apply, leave: () => apply(true) };
}
