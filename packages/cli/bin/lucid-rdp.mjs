#!/usr/bin/env node
// The `lucid-rdp` bin: registers tsx's ESM loader and runs the TypeScript entry point, so the CLI
// works straight from `npm ci` with no build step (like every service of this repository).
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
