// Starts the gateway daemon for a test file and makes official-SDK clients for it (shared by every *.test.mjs here).
//
// By default it starts `dotnet src/Gateway.Cli/bin/<config>/net10.0/gateway.dll run` on a free loopback port
// (build first: dotnet build Gateway.sln -c Release). To test a daemon that is already running instead, set
// GATEWAY_API=host:port plus GATEWAY_SECRET_ID/GATEWAY_SECRET_KEY.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const tencentcloud = require("tencentcloud-sdk-nodejs");
const CvmClient = tencentcloud.cvm.v20170312.Client;
const VpcClient = tencentcloud.vpc.v20170312.Client;
const MonitorClient = tencentcloud.monitor.v20180724.Client;

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..", "..");

/**
 * A daemon of its own (or the one GATEWAY_API names): `await gateway.start()` in before(), `await gateway.stop()` in
 * after(); `gateway.clients()` gives { cvm, vpc, monitor } SDK clients signed with its keys (or with `keyOverride`).
 */
export function gatewayDaemon(args) {
  const state = {
    daemon: null,
    stateDir: null,
    endpoint: process.env.GATEWAY_API ?? null,
    secretId: process.env.GATEWAY_SECRET_ID ?? "AKIDsdkNodeTest0123456789abcdefgh",
    secretKey: process.env.GATEWAY_SECRET_KEY ?? "sdkNodeTestSecretKey0123456789abc",
    output: [],
  };

  function launch() {
    const configuration = process.env.GATEWAY_CONFIGURATION ?? "Release";
    const dll = process.env.GATEWAY_DLL ?? join(repo, "src", "Gateway.Cli", "bin", configuration, "net10.0", "gateway.dll");
    if (!existsSync(dll)) {
      throw new Error(`${dll} is missing: run 'dotnet build Gateway.sln -c ${configuration}' first, or set GATEWAY_API to a running daemon.`);
    }
    state.stateDir = mkdtempSync(join(tmpdir(), "gw-sdk-node-"));
    state.daemon = spawn("dotnet", [dll, "run", "--state", state.stateDir, "--api", "127.0.0.1:0", ...args], {
      env: { ...process.env, GATEWAY_SECRET_ID: state.secretId, GATEWAY_SECRET_KEY: state.secretKey },
      stdio: ["ignore", "pipe", "pipe"],
    });
    return new Promise((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error("the daemon did not start listening within 60 s:\n" + state.output.join(""))), 60_000);
      state.daemon.stderr.on("data", (d) => state.output.push(String(d)));
      state.daemon.stdout.on("data", (d) => {
        state.output.push(String(d));
        const m = /API listening on http:\/\/(\S+)/.exec(state.output.join(""));
        if (m) {
          clearTimeout(timer);
          resolveReady(m[1]);
        }
      });
      state.daemon.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the daemon exited with ${code} before listening:\n` + state.output.join("")));
      });
    });
  }

  return {
    async start() {
      if (!state.endpoint) {
        state.endpoint = await launch();
      }
    },
    async stop() {
      if (state.daemon) {
        const exited = new Promise((r) => state.daemon.on("exit", (code, signal) => r({ code, signal })));
        state.daemon.kill("SIGTERM");
        const { code } = await exited;
        rmSync(state.stateDir, { recursive: true, force: true });
        assert.equal(code, 0, "SIGTERM ends the daemon with exit code 0:\n" + state.output.join(""));
      }
    },
    clients(keyOverride) {
      const config = {
        credential: { secretId: state.secretId, secretKey: keyOverride ?? state.secretKey },
        region: "ap-guangzhou",
        profile: { httpProfile: { endpoint: state.endpoint, protocol: "http://", reqTimeout: 30 } },
      };
      return { cvm: new CvmClient(config), vpc: new VpcClient(config), monitor: new MonitorClient(config) };
    },
  };
}

/** The promise fails with an SDK error carrying `code` and a RequestId. */
export async function rejectsWithCode(promise, code) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    assert.ok(err.requestId, "SDK errors carry the RequestId");
    return true;
  });
}
