// The login screen: asks for the admin token and checks it against the
// server before keeping it for this tab.
// SPDX-License-Identifier: MIT
import { useState, type FormEvent } from "react";
import { checkToken } from "../api/client";

interface Props {
  notice: string | null;
  onLogin: (token: string) => void;
}

export function Login({ notice, onLogin }: Props) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (await checkToken(token.trim())) onLogin(token.trim());
      else setError("This token was refused. Use the admin token the daemon was started with.");
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="login">
      <form className="login-card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Moonwire</h1>
        <p>Sign in with the daemon's admin token to build and run integrations.</p>
        {notice && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        <div className="field">
          <label htmlFor="token">Admin token</label>
          <input
            id="token"
            type="password"
            autoComplete="off"
            required
            autoFocus
            value={token}
            onChange={(e) => setToken(e.target.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? "token-error" : "token-hint"}
          />
          {error ? (
            <span id="token-error" className="field-error" role="alert">
              {error}
            </span>
          ) : (
            <span id="token-hint" className="hint">
              Kept for this browser tab only; closing the tab forgets it.
            </span>
          )}
        </div>
        <button type="submit" className="primary" disabled={busy || token.trim() === ""}>
          {busy ? "Checking…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
