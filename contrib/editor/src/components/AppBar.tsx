// The bar across the top of every screen after login.
// SPDX-License-Identifier: MIT
import type { ReactNode } from "react";

export function AppBar({ children, onSignOut }: { children?: ReactNode; onSignOut: () => void }) {
  return (
    <header className="app-bar">
      <a className="brand" href="#/">
        Moonwire
      </a>
      <div className="app-bar-main">{children}</div>
      <button type="button" className="quiet" onClick={onSignOut}>
        Sign out
      </button>
    </header>
  );
}
