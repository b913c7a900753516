// Short status messages ("Saved as version 3."): shown for a few seconds
// and read out by screen readers through a role="status" region.
// SPDX-License-Identifier: MIT
import { useCallback, useEffect, useRef, useState } from "react";

const SHOWN_MS = 5000;

export function useAnnouncer(): { text: string; say: (text: string) => void } {
  const [text, setText] = useState("");
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const say = useCallback((t: string) => {
    clearTimeout(timer.current);
    setText(t);
    timer.current = setTimeout(() => setText(""), SHOWN_MS);
  }, []);
  useEffect(() => () => clearTimeout(timer.current), []);
  return { text, say };
}
