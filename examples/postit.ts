/**
 * PostIt, in the spirit of the P2PS group application: members of a group pin notes on a shared
 * board. Each note is broadcast to every member (and to its author, `toMyself`), so every board
 * shows the same notes without any server.
 *
 * ```sh
 * # four members in one process, each posting notes; prints every board, then leaves
 * deno run --allow-net=127.0.0.1 examples/postit.ts
 *
 * # or one member per terminal; type a line to pin a note, Ctrl-D to leave
 * deno run --allow-net=127.0.0.1 examples/postit.ts --name alice --port 4000
 * deno run --allow-net=127.0.0.1 examples/postit.ts --name bob --join 127.0.0.1:4000
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { createNet, joinNet, type P2PNode } from "../mod.ts";

/** A note on the board; any CBOR value can travel, including the `Date`. */
interface Note {
  author: string;
  text: string;
  at: Date;
}

function isNote(v: unknown): v is Note {
  const n = v as Note;
  return typeof n?.author === "string" && typeof n.text === "string" && n.at instanceof Date;
}

/** One member: a node, a name, and the board it has seen. */
class Member {
  readonly board: Note[] = [];
  readonly #reading: Promise<void>;

  constructor(readonly node: P2PNode, readonly name: string, print: (line: string) => void) {
    this.#reading = (async () => {
      for await (const m of node.messages()) {
        if (!isNote(m.msg)) continue;
        this.board.push(m.msg);
        print(`[${name.padEnd(5)}] 📝 ${m.msg.author}: ${m.msg.text}`);
      }
    })();
  }

  /** Pins a note on every board, this one included; resolves once every member has it. */
  async post(text: string): Promise<number> {
    const note: Note = { author: this.name, text, at: new Date() };
    const report = await this.node.broadcast(note, { toMyself: true, ack: true });
    return report.reached.length;
  }

  async leave(): Promise<void> {
    await this.node.leave();
    await this.#reading;
  }
}

function show(board: Note[]): string {
  return [...board]
    .sort((a, b) => a.at.getTime() - b.at.getTime() || a.author.localeCompare(b.author))
    .map((n) => `${n.author}: ${n.text}`)
    .join(" | ");
}

async function groupInOneProcess(): Promise<void> {
  const print = (line: string) => console.log(line);
  const names = ["alice", "bob", "carol", "dave"];
  const first = await createNet({});
  const members = [new Member(first, names[0], print)];
  for (const name of names.slice(1)) {
    // Each newcomer joins through the member before it: any member is an access point.
    const via = members[members.length - 1].node.ap;
    members.push(new Member(await joinNet(via), name, print));
  }
  console.log(`PostIt group of ${members.length}: ${names.join(", ")}\n`);
  const [alice, bob, carol, dave] = members;
  await alice.post("Stand-up moved to 10:30");
  await bob.post("Who has the projector key?");
  await carol.post("I do, it's in my desk");
  await dave.post("Lunch at noon, anyone?");
  await alice.post("Count me in");
  console.log("");
  for (const m of members) console.log(`${m.name.padEnd(5)}'s board: ${show(m.board)}`);
  const same = members.every((m) => show(m.board) === show(alice.board));
  console.log(same ? "\nEvery board shows the same notes." : "\nThe boards differ!");
  for (const m of members.reverse()) await m.leave();
}

async function oneMember(name: string, port: number, join?: string): Promise<void> {
  const node = join ? await joinNet(join, { ap: { port } }) : await createNet({ ap: { port } });
  const me = new Member(node, name, (line) => console.log(line));
  console.log(
    `${name} is on the board at ${node.ap.hostname}:${node.ap.port}; type a note, Ctrl-D to leave`,
  );
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let buf = "";
  for await (const chunk of lines) {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const text = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (text) await me.post(text).catch((e) => console.error(`not posted: ${e.message}`));
    }
  }
  await me.leave();
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { name: { type: "string" }, port: { type: "string" }, join: { type: "string" } },
  });
  if (values.name) await oneMember(values.name, Number(values.port ?? 0), values.join);
  else await groupInOneProcess();
}
