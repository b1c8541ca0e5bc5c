/**
 * The raw mounts' body reader against a real node:http server and client: the limit, and what
 * a client that is refused while still sending sees (the answer, never a reset before it).
 */
import { createServer, request, Agent, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readLimitedBody } from "./body.ts";

const LIMIT = 64 * 1024;
const LINGER_MS = 300;
let server: Server;
let url: string;
const outcomes: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    readLimitedBody(req, LIMIT, { tooLarge: () => new Error("too large"), incomplete: () => new Error("incomplete") }, LINGER_MS).then(
      (body) => {
        outcomes.push(`ok ${body?.length ?? "empty"}`);
        res.end(`got ${body?.length ?? 0}`);
      },
      (e: Error) => {
        outcomes.push(e.message);
        if (e.message === "too large" && !res.headersSent) {
          res.writeHead(413, { "content-length": 9 });
          res.end("too large");
        }
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** POSTs a body that never ends; resolves with the status, or rejects with the socket error. */
function endlessUpload(agent?: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", agent: agent ?? false, headers: { "transfer-encoding": "chunked" } });
    req.on("response", (r) => {
      r.resume();
      resolve(r.statusCode ?? 0);
      req.destroy();
    });
    req.on("error", (e) => (req.destroyed ? undefined : reject(e)));
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    const pump = () => {
      while (!req.destroyed && req.write(chunk));
      if (!req.destroyed) req.once("drain", pump);
    };
    pump();
  });
}

describe("readLimitedBody", () => {
  it("returns the body under the limit, undefined when empty", async () => {
    for (const [body, expected] of [["x".repeat(LIMIT), `got ${LIMIT}`], ["", "got 0"]] as const) {
      const r = await fetch(url, { method: "POST", body });
      expect(await r.text()).toBe(expected);
    }
  });

  it("a client still sending when it is refused reads the 413, every time (no reset first)", async () => {
    for (let i = 0; i < 40; i++) expect(await endlessUpload()).toBe(413);
  });

  it("a declared Content-Length over the limit is refused before the body is sent; a client that then finishes its body keeps the connection", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const sockets = new Set<unknown>();
      const first = await new Promise<number>((resolve, reject) => {
        const req = request(url, { method: "POST", agent, headers: { "content-length": String(LIMIT * 4) } });
        req.on("socket", (s) => sockets.add(s));
        req.on("response", (r) => {
          // The answer comes before the body is sent; then the client finishes the request.
          r.resume();
          r.on("end", () => resolve(r.statusCode ?? 0));
          req.end(Buffer.alloc(LIMIT * 4, 0x20));
        });
        req.on("error", reject);
        req.flushHeaders();
      });
      expect(first).toBe(413);
      const second = await new Promise<string>((resolve, reject) => {
        const req = request(url, { method: "POST", agent }, (r) => {
          let text = "";
          r.on("data", (b: Buffer) => (text += b.toString()));
          r.on("end", () => resolve(text));
        });
        req.on("socket", (s) => sockets.add(s));
        req.on("error", reject);
        req.end("abc");
      });
      expect(second).toBe("got 3");
      expect(sockets.size).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  it("the rest of a refused body is dropped for a bounded time, then the connection is closed", async () => {
    const { port } = server.address() as AddressInfo;
    const { answer, lingered } = await new Promise<{ answer: string; lingered: number }>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      let answer = "";
      let answeredAt = 0;
      socket.on("data", (b: Buffer) => {
        answer += b.toString();
        answeredAt ||= Date.now();
      });
      // The close is a reset: the client's next write fails (EPIPE, ECONNRESET); then "close".
      socket.on("error", () => undefined);
      socket.write("POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n");
      const chunk = `4000\r\n${" ".repeat(0x4000)}\r\n`;
      // A slow, endless upload: 16 KiB every 5 ms.
      const timer = setInterval(() => socket.write(chunk), 5);
      socket.on("close", () => {
        clearInterval(timer);
        resolve({ answer, lingered: Date.now() - answeredAt });
      });
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(lingered).toBeGreaterThanOrEqual(LINGER_MS - 50);
    expect(lingered).toBeLessThan(LINGER_MS + 5_000);
  });

  it("a client gone mid-body is reported as incomplete", async () => {
    outcomes.length = 0;
    await new Promise<void>((resolve) => {
      const req = request(url, { method: "POST", agent: false, headers: { "content-length": "1000" } });
      req.on("error", () => undefined);
      req.write("{", () => setTimeout(() => req.destroy(), 50));
      req.on("close", () => resolve());
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(outcomes).toEqual(["incomplete"]);
  });
});
