// A child process for tests: floods a node with connections from many loopback source addresses
// (127.0.0.2, 127.0.0.3, ...). Deno.connect cannot choose its source address; node:net's
// `localAddress` can, given net permission for each address (tests/_address_flood.ts runs it).
//
//   deno run --allow-net=127.0.0.1,127.0.0.2,... tests/_address_flood_peer.ts \
//     --port=P --addresses=A --per-address=K [--partial]
//
// Each socket sends nothing, or (--partial) a Noise preamble and the first bytes of a handshake
// message. Once every socket got the node's preamble or was closed by the node, it prints
// `ready`; then each line on its stdin gets one line back, {"open": n, "closed": m}, the sockets
// open and closed by the node now. When its stdin ends it closes the sockets and exits.
import net from "node:net";
import { parseArgs } from "node:util";
import { preamble, PREAMBLE_SIZE } from "../lib/com/tcp/channel.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string" },
    addresses: { type: "string" },
    "per-address": { type: "string" },
    partial: { type: "boolean", default: false },
  },
});
const port = Number(values.port);
const addresses = Number(values.addresses);
const perAddress = Number(values["per-address"]);
const start = new Uint8Array([...preamble("noise"), 0, 32, ...new Uint8Array(10).fill(7)]);

/** Source address number `i` (0-based): 127.0.0.2 upwards. */
function source(i: number): string {
  return `127.0.0.${2 + i}`;
}

/** One socket of the flood. */
class Flooding {
  readonly socket: net.Socket;
  /** Settles once the node's preamble arrived or the node closed the socket. */
  readonly settled: Promise<void>;
  /** Resolves once the socket is closed, whoever closed it. */
  readonly closed: Promise<void>;
  /** The node closed it (before this process did). */
  closedByNode = false;
  #ending = false;

  constructor(address: string) {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress: address });
    this.socket = socket;
    socket.on("error", () => {}); // a reset by the node shows as "close"
    this.closed = new Promise<void>((resolve) =>
      socket.once("close", () => {
        if (!this.#ending) this.closedByNode = true;
        resolve();
      })
    );
    this.settled = new Promise<void>((resolve) => {
      let got = 0;
      socket.on("data", (chunk: Uint8Array) => {
        got += chunk.length;
        if (got >= PREAMBLE_SIZE) resolve();
      });
      socket.once("close", () => resolve());
    });
    if (values.partial) socket.once("connect", () => socket.write(start));
  }

  close(): Promise<void> {
    this.#ending = true;
    this.socket.destroy();
    return this.closed;
  }
}

// Round robin over the addresses, so that each address's oldest is about as old as any other's.
const floods: Flooding[] = [];
for (let k = 0; k < perAddress; k++) {
  for (let i = 0; i < addresses; i++) floods.push(new Flooding(source(i)));
}
await Promise.all(floods.map((f) => f.settled));
console.log("ready");
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  for (let n = chunk.split("\n").length - 1; n > 0; n--) {
    const closed = floods.filter((f) => f.closedByNode).length;
    console.log(JSON.stringify({ open: floods.length - closed, closed }));
  }
}
await Promise.all(floods.map((f) => f.close()));
