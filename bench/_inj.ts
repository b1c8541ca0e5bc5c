import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SYSTEM } from "../src/auth/principal.ts";
import { loadServerConfig } from "../src/platform/config.ts";
import { createPlatform } from "../src/server/platform.ts";
import { execFileSync } from "node:child_process";
const dataDir = mkdtempSync(join(tmpdir(), "probe-"));
const platform = await createPlatform(loadServerConfig({}, { dataDir, host: "127.0.0.1", port: 0, logLevel: "silent", writeClientConfig: false }));
const url = await platform.start();
const { token } = await platform.ctx.tokens.create(SYSTEM, { name: "bench", user: "admin" });
execFileSync("npx", ["tsx", "bench/_pub.ts", url, token], { stdio: "ignore" });
await new Promise((r) => setTimeout(r, 1500));
const B = '{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}';
const h = { authorization: `Bearer ${token}`, "content-type": "application/json" };
for (const [name, opts] of [
  ["GET /v2", { method: "GET", url: "/serving/default/v2", headers: h }],
  ["infer", { method: "POST", url: "/serving/default/v2/models/iris/infer", headers: h, payload: B }],
  ["infer400", { method: "POST", url: "/serving/default/v2/models/iris/infer", headers: h, payload: '{"inputs":[]}' }],
] as const) {
  for (let k = 0; k < 2; k++) {
    const N = 5000; const c0 = process.cpuUsage(); const t0 = performance.now();
    for (let i = 0; i < N; i++) { const r = await platform.app.inject(opts as never); if (i === 0 && k === 0) console.log(r.statusCode, r.body.slice(0, 80)); }
    const c = process.cpuUsage(c0);
    console.log(name, "wall µs/req", ((performance.now() - t0) * 1000 / N).toFixed(1), "cpu µs/req", ((c.user + c.system) / N).toFixed(1));
  }
}
await platform.stop();
