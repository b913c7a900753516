// Vite build of the editor into dist/, which the daemon serves at /.
// During development `npm run dev` proxies /api to a running daemon.
// SPDX-License-Identifier: MIT
import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

const daemon = process.env.MOONWIRE_URL ?? "http://127.0.0.1:8420";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1000 },
  server: { proxy: { "/api": daemon } },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
