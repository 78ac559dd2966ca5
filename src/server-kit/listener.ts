/**
 * The HTTP(S) plumbing both test servers share: a listener on a host and port (plain HTTP, or TLS with the
 * certificate a server made), request bodies read whole with a size cap, JSON answers, and a close that ends
 * keep-alive sockets too, so a test's `close()` never waits for a client's idle connection.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export interface ListenerOptions {
  /** Serve HTTPS with this key and certificate (PEM); plain HTTP when absent. */
  tls?: { key: string; cert: string };
  handle: RequestHandler;
  /**
   * Answers a request whose handler threw: only reachable when the socket failed or the server closed mid-request,
   * or on a server bug; nothing is sent when the answer already started.
   */
  onUncaught(res: ServerResponse, error: unknown): void;
}

/** A node:http(s) server running `handle` for every request. */
export function createListener(options: ListenerOptions): Server {
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    options.handle(req, res).catch((error: unknown) => {
      if (!res.headersSent && !res.destroyed) options.onUncaught(res, error);
    });
  };
  return options.tls === undefined ? createHttpServer(listener) : createHttpsServer(options.tls, listener);
}

/** Listens on host:port (0: a free one) and resolves with the port bound; rejects with the bind error. */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops listening and closes every open socket, keep-alive ones included; a server not listening is done. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!server.listening) return resolve();
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
}

/**
 * The request body as text. An oversized body is still read to the end (and dropped): answering mid-upload would
 * reset the connection and the client would see a socket error instead of the server's answer.
 */
export async function readBody(req: IncomingMessage, maxBytes: number, tooLarge: () => Error): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size <= maxBytes) chunks.push(buffer);
  }
  if (size > maxBytes) throw tooLarge();
  return Buffer.concat(chunks).toString("utf8");
}

/** A JSON answer with its length; `headers` first, so they cannot change the content type. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res
    .writeHead(status, {
      ...headers,
      "Content-Type": "application/json; charset=utf-8",
      "Content-Length": Buffer.byteLength(text),
    })
    .end(text);
}

/** Whether a peer address is this machine's (admin endpoints answer no one else). */
export function isLoopback(address: string | undefined): boolean {
  return address === "127.0.0.1" || address === "::1" || address === "::ffff:127.0.0.1" || /^127\./.test(address ?? "");
}

/** A wildcard listen address is not one a client can dial; IPv6 literals need brackets in a URL. */
export function urlHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}

/**
 * For a server run as a command: SIGINT or SIGTERM calls `server.close()`, whatever `close` is by then (a command
 * may wrap it to know when the server is gone). `close` is swapped in place, so that closing by either route (a
 * signal, or the caller) removes the handlers and the process can exit.
 */
export function closeOnSignals(server: { close(): Promise<void> }): void {
  const close = server.close.bind(server);
  const onSignal = () => void server.close();
  server.close = () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    return close();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
