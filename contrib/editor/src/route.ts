// The page shown, kept in the location hash so reloads and the back
// button work: #/ for the integrations, #/integrations/ID for one.
// SPDX-License-Identifier: MIT
import { useEffect, useState } from "react";

export type Route = { page: "list" } | { page: "designer"; id: string };

function parse(hash: string): Route {
  const m = /^#\/integrations\/([\w-]+)/.exec(hash);
  return m ? { page: "designer", id: m[1] } : { page: "list" };
}

export function go(route: Route): void {
  location.hash = route.page === "list" ? "#/" : `#/integrations/${route.id}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.hash));
  useEffect(() => {
    const on = () => setRoute(parse(location.hash));
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}
