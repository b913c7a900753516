// The admin token for this browser tab: held in sessionStorage only, so
// it is gone when the tab closes and is never written anywhere else.
// SPDX-License-Identifier: MIT

const KEY = "moonwire.adminToken";

export function loadToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function saveToken(token: string): void {
  try {
    sessionStorage.setItem(KEY, token);
  } catch {
    // storage refused (private mode): the token lives in memory only
  }
}

export function forgetToken(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // nothing was stored
  }
}
