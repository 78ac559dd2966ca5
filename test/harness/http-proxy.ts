/**
 * A forwarding HTTP proxy in front of one of the local test servers (test/harness/servers.ts), for tests that
 * must act at the moment a request arrives: cut the connection, answer with an error, run something first (a
 * concurrent writer, an outage), or forward the request and lose the answer. The server behind it keeps its
 * state, so a test can break and heal the path to it as often as it likes.
 *
 *     const proxy = await startHttpProxy(endpoints.vault.address, async (request) =>
 *       request.method === "POST" ? "drop-response" : "forward",
 *     );
 *     // point the client under test at proxy.endpoint; proxy.requests lists what it sent
 *     await proxy.close();
 *
 * Every request is recorded with its headers and body, which may hold tokens and secret values: the record is
 * for assertions in the test process and is never written anywhere.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";

export interface ProxiedRequest {
  method: string;
  /** The path with its query string, as the client sent it (`/v1/secret/data/app`). */
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * What to do with one request:
 * - `forward`: pass it on and its answer back;
 * - `reset`: close the connection without passing it on (an outage, a dropped connection);
 * - `drop-response`: pass it on, wait for the answer, then close the connection instead (the request took effect,
 *   the client never learns it did);
 * - an answer of the proxy's own (an error the server would send), without passing the request on;
 * - `rewrite`: pass it on, and hand back the server's answer with its body changed (a corrupting middlebox).
 */
export type ProxyAnswer =
  | "forward"
  | "reset"
  | "drop-response"
  | { status: number; headers?: Record<string, string>; body: string }
  | { rewrite: (body: Buffer, status: number) => Buffer };

export type ProxyHandler = (request: ProxiedRequest) => ProxyAnswer | Promise<ProxyAnswer>;

export interface HttpProxy {
  /** `http://127.0.0.1:<port>`: the address to give the client under test. */
  endpoint: string;
  /** Every request that reached the proxy, in order. */
  requests: ProxiedRequest[];
  /** Stops listening and cuts open connections. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Starts a proxy on a free 127.0.0.1 port that forwards to `target` (`http://host:port`, or `https://host:port`
 * verified against `options.ca`: the client talks plain HTTP to the proxy, the proxy TLS to the server).
 */
export async function startHttpProxy(
  target: string,
  handle: ProxyHandler,
  options: { ca?: string } = {},
): Promise<HttpProxy> {
  const upstream = new URL(target);
  const requests: ProxiedRequest[] = [];
  const server = createServer(async (req, res) => {
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const request: ProxiedRequest = {
        method: req.method ?? "GET",
        path: req.url ?? "/",
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(request);
      const answer = await handle(request);
      if (answer === "reset") {
        req.socket.destroy();
        return;
      }
      if (typeof answer === "object" && "status" in answer) {
        res.writeHead(answer.status, answer.headers ?? {});
        res.end(answer.body);
        return;
      }
      const forwarded = await forward(upstream, request, options.ca);
      if (typeof answer === "object") {
        const body = answer.rewrite(forwarded.body, forwarded.status);
        res.writeHead(forwarded.status, { ...forwarded.headers, "content-length": String(body.length) });
        res.end(body);
        return;
      }
      if (answer === "drop-response") {
        req.socket.destroy();
        return;
      }
      res.writeHead(forwarded.status, forwarded.headers);
      res.end(forwarded.body);
    } catch {
      // The handler failed, or the server behind the proxy did not answer: the client sees a broken connection.
      req.socket.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

interface Forwarded {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Sends the request on unchanged (headers included, so signatures and tokens still hold) and reads the answer. */
function forward(upstream: URL, request: ProxiedRequest, ca: string | undefined): Promise<Forwarded> {
  return new Promise((resolve, reject) => {
    const send = upstream.protocol === "https:" ? httpsRequest : httpRequest;
    const outgoing = send(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: request.method,
        path: request.path,
        // Unchanged, so signatures over the Host header hold (a TLS upstream's certificate is checked against `host`).
        headers: request.headers,
        ...(ca === undefined ? {} : { ca }),
      },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on("data", (chunk: Buffer) => chunks.push(chunk));
        answer.on("error", reject);
        answer.on("end", () => {
          // The body is sent whole below, so the length is known and the upstream's chunking does not apply.
          const { "transfer-encoding": _chunked, ...headers } = answer.headers;
          const body = Buffer.concat(chunks);
          resolve({
            status: answer.statusCode ?? 502,
            headers: { ...headers, "content-length": String(body.length) },
            body,
          });
        });
      },
    );
    outgoing.on("error", reject);
    outgoing.end(request.body);
  });
}
