/**
 * With TLS_CERT/TLS_KEY the same port speaks TLS with ALPN: h2 for gRPC clients and http/1.1 for
 * Connect JSON and browsers. The certificate is made by openssl for this test run.
 */
import { request } from "node:https";
import { connect as tlsConnect } from "node:tls";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EchoService } from "./support/echo-service.js";
import { type InProcessServer, startEcho } from "./support/harness.js";
import { testCertificate } from "./support/test-certificate.js";

let server: InProcessServer;
let ca: Buffer;

beforeAll(async () => {
  const { cert, key, ca: made } = testCertificate();
  ca = made;
  server = await startEcho({ TLS_CERT: cert, TLS_KEY: key });
});
afterAll(async () => {
  await server?.shutdown();
});

describe("TLS on the one port", () => {
  it("offers h2 and http/1.1 by ALPN", async () => {
    for (const proto of ["h2", "http/1.1"]) {
      const negotiated = await new Promise<string | false>((resolve, reject) => {
        const s = tlsConnect(
          {
            host: "127.0.0.1",
            port: server.port,
            ca,
            ALPNProtocols: [proto],
            servername: "localhost",
          },
          () => {
            resolve(s.alpnProtocol ?? false);
            s.destroy();
          },
        );
        s.once("error", reject);
      });
      expect(negotiated).toBe(proto);
    }
  });

  it("serves gRPC over h2", async () => {
    expect(server.url.startsWith("https://")).toBe(true);
    const client = createClient(
      EchoService,
      createGrpcTransport({ baseUrl: server.url, nodeOptions: { ca } }),
    );
    expect((await client.echo({ message: "secure" })).message).toBe("secure");
  });

  it("serves Connect JSON over https/1.1", async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(
        `${server.url}/lucid.rdp.testing.v1.EchoService/Echo`,
        { method: "POST", ca, headers: { "content-type": "application/json" } },
        (res) => {
          let text = "";
          res.on("data", (d: Buffer) => {
            text += d.toString();
          });
          res.on("end", () => resolve(text));
        },
      );
      req.once("error", reject);
      req.end(JSON.stringify({ message: "h1" }));
    });
    expect(JSON.parse(body)).toEqual({ message: "h1" });
  });
});
