// The admin token for this page: held in memory only, never written to
// any storage, so it is gone when the page is closed or reloaded (the
// login screen asks again).
// SPDX-License-Identifier: MIT

let token: string | null = null;

export function loadToken(): string | null {
  return token;
}

export function saveToken(value: string): void {
  token = value;
}

export function forgetToken(): void {
  token = null;
}
