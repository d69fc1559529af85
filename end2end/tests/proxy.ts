import * as net from "node:net";

/**
 * A TCP proxy in front of the chat server that can cut every connection and
 * refuse new ones, then let them through again: a dropped network for one
 * browser (Playwright's setOffline does not affect WebSockets).
 */
export class CuttableProxy {
  private server = net.createServer((client) => this.accept(client));
  private sockets = new Set<net.Socket>();
  private open = true;
  port = 0;

  constructor(private targetPort: number) {}

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return `http://127.0.0.1:${this.port}`;
  }

  /** Drops every connection now and refuses new ones until restore(). */
  cut() {
    this.open = false;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  restore() {
    this.open = true;
  }

  async stop() {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket) {
    if (!this.open) {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.targetPort, "127.0.0.1");
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      this.sockets.add(a);
      a.on("data", (chunk) => b.write(chunk));
      a.on("close", () => {
        this.sockets.delete(a);
        b.destroy();
      });
      a.on("error", () => b.destroy());
    }
  }
}
