// Starts `gateway run` (the Release build) on a free loopback port for a test file, and stops it with SIGTERM.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export async function startDaemon({ secretId, secretKey, extraArgs = [] }) {
  const configuration = process.env.GATEWAY_CONFIGURATION ?? "Release";
  const dll = process.env.GATEWAY_DLL ?? join(repo, "src", "Gateway.Cli", "bin", configuration, "net10.0", "gateway.dll");
  if (!existsSync(dll)) {
    throw new Error(`${dll} is missing: run 'dotnet build Gateway.sln -c ${configuration}' first.`);
  }
  const stateDir = mkdtempSync(join(tmpdir(), "gw-sdk-node-"));
  const output = [];
  const child = spawn("dotnet", [dll, "run", "--state", stateDir, "--api", "127.0.0.1:0",
    "--public-pool", "198.51.100.0/28", "--subnet", "10.3.0.0/24", ...extraArgs], {
    env: { ...process.env, GATEWAY_SECRET_ID: secretId, GATEWAY_SECRET_KEY: secretKey },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const endpoint = await new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error("the daemon did not start listening within 60 s:\n" + output.join(""))), 60_000);
    child.stderr.on("data", (d) => output.push(String(d)));
    child.stdout.on("data", (d) => {
      output.push(String(d));
      const m = /API listening on http:\/\/(\S+)/.exec(output.join(""));
      if (m) {
        clearTimeout(timer);
        resolveReady(m[1]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the daemon exited with ${code} before listening:\n` + output.join("")));
    });
  });
  return {
    endpoint,
    output,
    async stop() {
      const exited = new Promise((r) => child.on("exit", (code) => r(code)));
      child.kill("SIGTERM");
      const code = await exited;
      rmSync(stateDir, { recursive: true, force: true });
      return code;
    },
  };
}
