// The namespace lab behind netns_test.ts, on its own and quick, so that it runs wherever it can
// (as root with iproute2, nftables and curl; it skips with the reason elsewhere): loss bites,
// TCP still delivers, namespaces of a crashed run are removed, and nothing is left behind.
import assert from "node:assert/strict";
import { Proc } from "./_gateway_process.ts";
import { NetnsLab, netnsUnavailable } from "./_netns.ts";
import { test } from "./_test.ts";

const why = await netnsUnavailable();
if (why) console.log(`netns_lab_test.ts skipped: ${why}`);

/** Serves a body of `size` bytes on `hostname`, any port; prints the port. */
const SERVER = (hostname: string, size: number) => `
Deno.serve({ hostname: "${hostname}", port: 0, onListen: (a) => console.log(a.port) },
  () => new Response("x".repeat(${size})));`;

/** Sends `count` UDP datagrams from `from` to port 9 (discard) of `to`, then prints "sent". */
const DATAGRAMS = (from: string, to: string, count: number) => `
const socket = Deno.listenDatagram({ transport: "udp", hostname: "${from}", port: 0 });
const data = new Uint8Array(64);
for (let i = 0; i < ${count}; i++) {
  await socket.send(data, { transport: "udp", hostname: "${to}", port: 9 });
}
socket.close();
console.log("sent");`;

async function namespaces(): Promise<string[]> {
  const out = await new Deno.Command("ip", { args: ["netns", "list"], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => l.split(" ")[0]);
}

test(
  "a namespace lab drops its share of packets on input, TCP still delivers every byte, and it leaves no namespace behind, not even a crashed run's",
  async () => {
    // A run that died: its pid is above any possible pid (2^22), so it cannot be alive.
    const crashed = "p2psnet4194305-n1";
    const made = await new Deno.Command("ip", { args: ["netns", "add", crashed] }).output();
    assert.ok(made.success, "a stand-in for a crashed run's namespace was created");

    const size = 200_000;
    let names: string[] = [];
    {
      await using lab = await NetnsLab.create({ namespaces: 2, lossPercent: 20 });
      names = lab.names;
      assert.ok(lab.stale.includes(crashed), `stale namespaces removed: ${lab.stale}`);
      assert.ok(!(await namespaces()).includes(crashed));

      // Datagrams, which nothing retransmits, measure the loss rule itself.
      const before = await lab.counters();
      await using sender = new Proc(
        lab.execArgs(0, Deno.execPath(), [
          "eval",
          "--unstable-net",
          DATAGRAMS(lab.addresses[0], lab.addresses[1], 2000),
        ]),
        { command: "ip" },
      );
      await sender.waitFor((l) => l === "sent", "2000 datagrams sent");
      const after = await lab.counters();
      const arrived = after[1].arrived - before[1].arrived;
      const dropped = after[1].dropped - before[1].dropped;
      console.log(`  dropped ${dropped} of ${arrived} datagrams`);
      assert.ok(arrived >= 2000, `every datagram reached the input hook: ${arrived}`);
      // 20 % of 2,000: 15–25 % is more than five standard deviations either side.
      assert.ok(dropped > 0.15 * arrived && dropped < 0.25 * arrived, `${dropped} of ${arrived}`);

      // TCP across the bridge, both directions lossy, still delivers every byte by retransmitting.
      await using server = new Proc(
        lab.execArgs(1, Deno.execPath(), ["eval", SERVER(lab.addresses[1], size)]),
        { command: "ip" },
      );
      const port = Number(await server.waitFor((l) => /^\d+$/.test(l), "the server's port"));
      // Until a drop made TCP retransmit (segments are large on a veth, so a transfer is only a
      // few dozen packets): each answer still arrives whole.
      let retransmitted = 0;
      let requests = 0;
      while (retransmitted === 0 && requests < 20) {
        const res = await lab.curlJson(0, `http://${lab.addresses[1]}:${port}/`, undefined, 60);
        requests++;
        assert.equal(res.status, 200);
        assert.equal(String(res.body).length, size, "every byte arrived");
        retransmitted = (await lab.counters()).reduce((a, c) => a + c.retransmitted, 0);
      }
      console.log(`  ${requests} × ${size} bytes served; ${retransmitted} retransmissions`);
      assert.ok(retransmitted > 0, "TCP retransmitted what was dropped");
    }
    const left = await namespaces();
    assert.deepEqual(names.filter((n) => left.includes(n)), [], "the lab's namespaces are gone");
    // Its own prefix only: another lab of this process (a test file run in parallel) may be up.
    const prefix = names[0].slice(0, names[0].lastIndexOf("-") + 1);
    assert.ok(!left.some((n) => n.startsWith(prefix)), "and its bridge too");
  },
  { ignore: why !== null },
);
