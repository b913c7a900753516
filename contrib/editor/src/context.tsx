// What every screen after login shares: the API client and the node-type
// catalog (loaded once from GET /node-types).
// SPDX-License-Identifier: MIT
import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import type { Api, NodeType } from "./api/client";
import { catalogOf, type Catalog } from "./workflow/ports";

const ApiContext = createContext<Api | null>(null);

export function ApiProvider({ api, children }: { api: Api; children: ReactNode }) {
  return <ApiContext.Provider value={api}>{children}</ApiContext.Provider>;
}

export function useApi(): Api {
  const api = useContext(ApiContext);
  if (!api) throw new Error("useApi outside ApiProvider");
  return api;
}

export interface CatalogState {
  types: NodeType[];
  catalog: Catalog;
  error: string | null;
  loaded: boolean;
}

const CatalogContext = createContext<CatalogState>({
  types: [],
  catalog: new Map(),
  error: null,
  loaded: false,
});

export function CatalogProvider({ children }: { children: ReactNode }) {
  const api = useApi();
  const [types, setTypes] = useState<NodeType[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);

  useEffect(() => {
    api
      .nodeTypes()
      .then((t) => setTypes(t))
      .catch((e: Error) => setError(`The node types could not be loaded: ${e.message}`))
      .finally(() => setLoaded(true));
  }, [api]);

  const value = useMemo(
    () => ({ types, catalog: catalogOf(types), error, loaded }),
    [types, error, loaded],
  );
  return <CatalogContext.Provider value={value}>{children}</CatalogContext.Provider>;
}

export function useCatalog(): CatalogState {
  return useContext(CatalogContext);
}
