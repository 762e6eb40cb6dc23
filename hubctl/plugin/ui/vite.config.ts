import { defineConfig } from "vite";

// Airflow 3.3's UI puts these on globalThis (Reflect.set in its index bundle): never bundle them.
const globals: Record<string, string> = {
  "@chakra-ui/react": "ChakraUI",
  "@emotion/react": "EmotionReact",
  react: "React",
  "react-dom": "ReactDOM",
  "react-router-dom": "ReactRouterDOM",
  "react/jsx-runtime": "ReactJSXRuntime",
};

export default defineConfig({
  // JSX through esbuild's automatic runtime: no @vitejs/plugin-react (its vite-8 peer range fails here).
  esbuild: { jsx: "automatic", legalComments: "none" },
  define: { "process.env.NODE_ENV": JSON.stringify("production") },
  build: {
    outDir: "../static",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    lib: {
      entry: "src/main.tsx",
      name: "AirflowPlugin", // the global Airflow's loader reads after import()
      formats: ["umd"],
      fileName: () => "markets.js",
    },
    rollupOptions: {
      external: Object.keys(globals),
      output: { globals, exports: "default" },
    },
  },
});
