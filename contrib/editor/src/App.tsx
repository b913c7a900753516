// The application shell: the login screen until a token is accepted, then
// the integrations list or one integration's designer.
// SPDX-License-Identifier: MIT
import { useCallback, useEffect, useMemo, useState } from "react";
import { Api } from "./api/client";
import { IntegrationsPage } from "./components/IntegrationsPage";
import { Login } from "./components/Login";
import { ApiProvider, CatalogProvider } from "./context";
import { Designer } from "./designer/Designer";
import { useRoute } from "./route";
import { forgetToken, loadToken, saveToken } from "./session";

export function App() {
  const [token, setToken] = useState<string | null>(loadToken);
  const [notice, setNotice] = useState<string | null>(null);
  const route = useRoute();
  const api = useMemo(() => (token ? new Api(token) : null), [token]);

  const signOut = useCallback((why: string | null) => {
    forgetToken();
    setToken(null);
    setNotice(why);
  }, []);

  useEffect(() => {
    if (api) api.onUnauthorized = () => signOut("The server refused the token: sign in again.");
  }, [api, signOut]);

  useEffect(() => {
    document.title = route.page === "list" ? "Integrations · Moonwire" : "Designer · Moonwire";
  }, [route]);

  if (!api) {
    return (
      <Login
        notice={notice}
        onLogin={(t) => {
          saveToken(t);
          setNotice(null);
          setToken(t);
        }}
      />
    );
  }
  return (
    <ApiProvider api={api}>
      <CatalogProvider>
        {route.page === "designer" ? (
          <Designer key={route.id} integrationId={route.id} onSignOut={() => signOut(null)} />
        ) : (
          <IntegrationsPage onSignOut={() => signOut(null)} />
        )}
      </CatalogProvider>
    </ApiProvider>
  );
}
