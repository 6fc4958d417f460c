import react from "@vitejs/plugin-react";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";

/**
 * The gateway's CSP allows no inline script or style: fail the build if index.html has any
 * (a <script> without src, a <style>, a style="" attribute or an inline event handler).
 */
function noInlineCode(): Plugin {
  return {
    name: "pulse-no-inline-code",
    apply: "build",
    enforce: "post",
    generateBundle(_options, bundle) {
      for (const file of Object.values(bundle)) {
        if (file.type !== "asset" || !file.fileName.endsWith(".html")) continue;
        const html = String(file.source);
        const problems = [
          [/<script(?![^>]*\bsrc=)[^>]*>/i, "an inline <script>"],
          [/<style[\s>]/i, "a <style> element"],
          [/\sstyle\s*=/i, "a style attribute"],
          [/\son[a-z]+\s*=/i, "an inline event handler"],
        ] as const;
        for (const [pattern, what] of problems) {
          if (pattern.test(html)) this.error(`${file.fileName} has ${what}, which the CSP blocks`);
        }
      }
    },
  };
}

const gateway = "http://127.0.0.1:8000";

export default defineConfig({
  base: "/",
  plugins: [react(), noInlineCode()],
  server: {
    proxy: {
      "/api": { target: gateway, changeOrigin: false },
      "/schema": { target: gateway, changeOrigin: false },
      "/ws": { target: gateway, ws: true, changeOrigin: false },
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    // Small assets may become data: URLs (the CSP allows data: images only); keep every
    // other asset a file.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
  },
});
