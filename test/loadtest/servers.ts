/** Tiny node:http servers on 127.0.0.1 with known behaviour, for load-test figures. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

export interface TinyServer {
  readonly url: string;
  readonly server: Server;
  /** Requests received. */
  readonly received: () => number;
  close(): Promise<void>;
}

export async function tinyServer(handler: (req: IncomingMessage, res: ServerResponse, n: number) => void): Promise<TinyServer> {
  let n = 0;
  const server = createServer((req, res) => {
    const i = n++;
    req.resume();
    req.on("end", () => handler(req, res, i));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    received: () => n,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Answers 200 "ok" after `ms`. */
export const sleeping = (ms: number) => tinyServer((_req, res) => setTimeout(() => res.end("ok"), ms));

/** A closed port: listen, read the port, close. */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
