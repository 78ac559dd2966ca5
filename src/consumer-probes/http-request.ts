/**
 * One small HTTP(S) request with a timeout and an optional private CA. node:https rather than fetch,
 * because fetch in Node 20 takes a custom CA only through undici's Agent, which is not a public module.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export interface HttpAnswer {
  status: number;
  body: string;
}

export function httpCall(
  method: "GET" | "POST",
  url: string,
  options: { headers: Record<string, string>; timeoutMs: number; ca?: string | undefined },
): Promise<HttpAnswer> {
  const target = new URL(url);
  const send = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      target,
      {
        method,
        headers: {
          accept: "application/json",
          ...options.headers,
          ...(method === "POST" ? { "content-length": "0" } : {}),
        },
        timeout: options.timeoutMs,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
        agent: false,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          // The contract's answer is a few dozen bytes; don't buffer a misconfigured endpoint's page.
          if (body.length < 64 * 1024) body += chunk;
        });
        res.on("end", () => {
          clearTimeout(deadline);
          resolve({ status: res.statusCode ?? 0, body });
        });
        res.on("error", reject);
      },
    );
    // The socket timeout restarts with every byte; this one bounds the whole exchange, so a consumer that
    // trickles its answer cannot stretch a poll past timeoutSeconds.
    const deadline = setTimeout(
      () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on("error", (error) => {
      clearTimeout(deadline);
      reject(error);
    });
    req.end();
  });
}
