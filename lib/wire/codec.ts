/**
 * The frame codec, derived from the schema: for every frame type, a size bound, a writer, a
 * reader that validates each field as it reads it, and (for types that declare it) a merger that
 * appends the next frame's messages to a frame already written. They are compiled once per
 * {@linkcode Codec} from the schema's table into straight-line functions (no per-field dispatch
 * on the hot path: a data frame is read and checked in about the time the hand-written reader
 * this replaced took), so the table stays the only place a layout is written down.
 *
 * A codec is a value: the transports get one when they are made; nothing is registered by
 * importing a module. {@linkcode Codec.source} shows the compiled code of a frame type.
 *
 * It is one file of about 570 lines because it is one compiler: the code it generates for each
 * field kind — size bound, writer, validating reader — sits side by side, so that the three can
 * be checked against each other kind by kind.
 *
 * @module
 */

import {
  ARRAY16,
  bytesAt,
  CborReader,
  FALSE,
  floatAt,
  headAt,
  headSize,
  intAt,
  NULL,
  textAt,
  textBound,
  TRUE,
  WireError,
} from "./cbor.ts";
import {
  type FieldSpec,
  type Frame,
  type FrameName,
  type FrameSpec,
  HOP_LIMIT,
  type RuleContext,
  SCHEMA,
} from "./schema.ts";
import { type NodeRef, sameNode } from "./types.ts";

/** What a reader checks a frame against: the receiver's network and the link's peer. */
export interface DecodeContext extends RuleContext {
  /** The node at the other end of the link (fields claiming to be the sender must name it). */
  readonly peer: NodeRef | null;
  /**
   * The largest port a node may name: 65,535 (a TCP port) unless said otherwise. The simulator's
   * addresses are numbers that go further (one per node).
   */
  readonly maxPort?: number;
  /**
   * The record to use for a node read from a frame, instead of a new one: a simulator holding
   * many nodes keeps one record per node for all the frames that name it.
   */
  readonly intern?: (id: number, hostname: string, port: number) => NodeRef;
}

/** Reads frames for one link (it keeps a little state: its cursor and the last node read). */
export interface FrameReader {
  /**
   * Reads and validates the frame body `b[start..end)`.
   *
   * @throws {WireError} naming the first problem; its `reason` is what the node counts.
   */
  read(b: Uint8Array, start: number, end: number, ctx: DecodeContext): Frame;
}

interface Compiled {
  name: FrameName;
  spec: FrameSpec;
  bound: (f: Frame) => number;
  write: (f: Frame, buf: Uint8Array, view: DataView, p: number) => number;
  read: (
    b: Uint8Array,
    p: number,
    end: number,
    n: number,
    ctx: DecodeContext,
    r: NodeReader,
  ) => Frame;
  merge:
    | ((
      last: Frame,
      f: Frame,
      buf: Uint8Array,
      view: DataView,
      body: number,
      end: number,
      maxBody: number,
    ) => number)
    | null;
  source: string;
}

/** A CBOR reader that also reads nodes, reusing the object of the node it read last. */
class NodeReader extends CborReader {
  #last: NodeRef | null = null;

  node(b: Uint8Array, p: number, end: number, ctx: DecodeContext, frame: string, field: string) {
    if (this.array(b, p, end) !== 3) throw this.malformed("a node [id, host, port]", p);
    const id = this.int(b, this.at, end);
    if (id < 0 || id >= ctx.maxKey) throw outOfRange(frame, field, id, `[0, ${ctx.maxKey})`);
    const hostname = this.text(b, this.at, end, 255);
    const port = this.int(b, this.at, end);
    const maxPort = ctx.maxPort ?? 0xffff;
    if (port < 0 || port > maxPort) throw outOfRange(frame, field, port, `[0, ${maxPort}] (port)`);
    const last = this.#last;
    if (last !== null && last.id === id && last.ap.port === port && last.ap.hostname === hostname) {
      return last;
    }
    return (this.#last = ctx.intern
      ? ctx.intern(id, hostname, port)
      : { id, ap: { hostname, port } });
  }
}

function outOfRange(frame: string, field: string, v: unknown, range: string): WireError {
  return new WireError("range", `${frame}.${field} is ${v}, outside ${range}`);
}

/** The helpers compiled code calls, passed in as one object. */
const helpers = {
  HOP_LIMIT,
  ARRAY16,
  NULL,
  TRUE,
  FALSE,
  headAt,
  headSize,
  intAt,
  floatAt,
  textAt,
  textBound,
  bytesAt,
  sameNode,
  outOfRange,
  nodeAt(buf: Uint8Array, view: DataView, p: number, n: NodeRef): number {
    buf[p] = 0x83;
    p = intAt(buf, view, p + 1, n.id);
    p = textAt(buf, view, p, n.ap.hostname);
    return intAt(buf, view, p, n.ap.port);
  },
  nodeBound(n: NodeRef): number {
    return 19 + textBound(n.ap.hostname);
  },
  sameOpt(a: NodeRef | undefined, b: NodeRef | undefined): boolean {
    return a === b || (a !== undefined && b !== undefined && sameNode(a, b));
  },
  sameList(a: readonly unknown[] | undefined, b: readonly unknown[] | undefined): boolean {
    return a === b;
  },
  error(reason: string, message: string): WireError {
    return new WireError(reason, message);
  },
  peerIs(v: NodeRef | number, ctx: DecodeContext): boolean {
    const peer = ctx.peer;
    if (peer === null) return false;
    return typeof v === "number" ? v === peer.id : sameNode(v, peer);
  },
};

// ---- code generation --------------------------------------------------------------------------

/** `code` for a field value `v` that may be absent (one byte, `null`, when it is). */
function orNull(s: FieldSpec, v: string, code: string, absent: string): string {
  return s.optional ? `if (${v} === undefined) { ${absent} } else { ${code} }` : code;
}

/** The fields of each record of a `rows` field. */
function rowFields(s: FieldSpec): [string, FieldSpec][] {
  return Object.entries(s.of!);
}

/** Code that adds an upper bound of the bytes of field value `v` to `n`. */
function boundCode(s: FieldSpec, v: string): string {
  switch (s.kind) {
    case "rows":
      return `n += 9; for (const row of ${v}) { n += 9; ${
        rowFields(s).map(([f, fs]) => orNull(fs, `row.${f}`, boundCode(fs, `row.${f}`), "n += 1;"))
          .join(" ")
      } }`;
    case "bool":
      return "n += 1;";
    case "text":
      return `n += h.textBound(${v});`;
    case "node":
      return `n += h.nodeBound(${v});`;
    case "nodes":
      return `n += 9; for (const x of ${v}) n += h.nodeBound(x);`;
    case "keys":
    case "seqs":
      return `n += 9 + 9 * ${v}.length;`;
    case "payload":
      return `n += 9 + ${v}.length;`;
    case "payloads":
      return `for (const x of ${v}) n += 9 + x.length;`;
    default:
      return "n += 9;";
  }
}

/** Code that writes field value `v` at `p`. */
function writeCode(s: FieldSpec, v: string, spec: string): string {
  switch (s.kind) {
    case "rows": {
      const of = rowFields(s);
      const fields = of.map(([f, fs]) =>
        orNull(fs, `row.${f}`, writeCode(fs, `row.${f}`, `${spec}.of.${f}`), "buf[p++] = h.NULL;")
      );
      return `p = h.headAt(buf, view, p, 0x80, ${v}.length); for (const row of ${v}) { ` +
        `p = h.headAt(buf, view, p, 0x80, ${of.length}); ${fields.join(" ")} }`;
    }
    case "bool":
      return `buf[p++] = ${v} ? h.TRUE : h.FALSE;`;
    case "time":
      return `p = h.floatAt(buf, view, p, ${v});`;
    case "text":
      return `p = h.textAt(buf, view, p, ${v});`;
    case "choice":
      return `p = h.intAt(buf, view, p, ${spec}.values.indexOf(${v}));`;
    case "node":
      return `p = h.nodeAt(buf, view, p, ${v});`;
    case "nodes":
      return `p = h.headAt(buf, view, p, 0x80, ${v}.length); for (const x of ${v}) p = h.nodeAt(buf, view, p, x);`;
    case "keys":
    case "seqs":
      return `p = h.headAt(buf, view, p, 0x80, ${v}.length); for (const x of ${v}) p = h.intAt(buf, view, p, x);`;
    case "payload":
      return `p = h.bytesAt(buf, view, p, ${v});`;
    case "payloads":
      return `for (const x of ${v}) p = h.bytesAt(buf, view, p, x);`;
    default:
      return `p = h.intAt(buf, view, p, ${v});`;
  }
}

/** Code that reads one number of kind `kind` into `v` and checks its range. */
function numberRead(kind: string, s: FieldSpec, v: string, where: string): string {
  const check = (cond: string, range: string) =>
    `if (${cond}) throw h.outOfRange(${where}, ${v}, ${range});`;
  // Integers are read with their sign, so that a negative one is "out of range", like any other.
  const int = `${v} = r.int(b, p, end); p = r.at;`;
  switch (kind) {
    case "key":
      return `${int} ${check(`${v} < 0 || ${v} >= ctx.maxKey`, "`[0, ${ctx.maxKey})`")}`;
    case "hops":
      return `${int} ${check(`${v} < 0 || ${v} > h.HOP_LIMIT`, `"[0, ${HOP_LIMIT}]"`)}`;
    case "phase":
      return `${int} ${check(`${v} < 0 || ${v} > 1`, `"{0, 1}"`)}`;
    case "finger":
      return `${int} ${check(`${v} < -1 || ${v} > 255`, `"[-1, 255]"`)}`;
    case "seq":
      return `${int} ${check(`${v} < 0`, `"[0, 2^53)"`)}`;
    case "count":
      return `${int} ${check(`${v} < ${s.min} || ${v} > ${s.max}`, `"[${s.min}, ${s.max}]"`)}`;
    case "int":
      return int;
    case "time":
      return `${v} = r.float(b, p, end); p = r.at; ${
        check(`!Number.isFinite(${v})`, `"finite numbers"`)
      }`;
    default:
      throw new Error(`Unknown number kind ${kind}`);
  }
}

/** Code that reads field value `v` of spec `s` (named `where`) at `p`. */
function readCode(s: FieldSpec, v: string, where: string, spec: string): string {
  switch (s.kind) {
    case "rows": {
      // `where` is `"Frame", "field"`: a record's field is named `field.sub`.
      const of = rowFields(s);
      const locals = of.map(([f]) => `${v}_${f}`);
      const fields = of.map(([f, fs], i) => {
        const code = readCode(fs, locals[i], where.replace(/"$/, `.${f}"`), `${spec}.of.${f}`);
        return fs.optional ? `if (r.absent(b, p, end)) p = r.at; else { ${code} }` : code;
      });
      const name = where.replace('", "', ".");
      return `{ const m = r.array(b, p, end); p = r.at;
        if (m < ${s.min ?? 0} || m > ${s.max}) throw h.outOfRange(${where}, m + " rows", "[${
        s.min ?? 0
      }, ${s.max}] rows");
        ${v} = new Array(m);
        for (let ri = 0; ri < m; ri++) {
          const k = r.array(b, p, end); p = r.at;
          if (k !== ${of.length}) throw h.error("malformed", ${name} + " has a row of " + k + " fields, not ${of.length}");
          let ${locals.join(", ")};
          ${fields.join("\n")}
          ${v}[ri] = { ${of.map(([f], i) => `${f}: ${locals[i]}`).join(", ")} };
        } }`;
    }
    case "bool":
      return `${v} = r.bool(b, p, end); p = r.at;`;
    case "text":
      return `${v} = r.text(b, p, end, ${s.max}); p = r.at;`;
    case "choice":
      return `${v} = r.int(b, p, end); p = r.at; if (${v} < 0 || ${v} >= ${
        s.values!.length
      }) throw h.outOfRange(${where}, ${v}, "a choice"); ${v} = ${spec}.values[${v}];`;
    case "node":
      return `${v} = r.node(b, p, end, ctx, ${where}); p = r.at;`;
    case "nodes":
    case "keys":
    case "seqs": {
      const item = s.kind === "nodes" ? `r.node(b, p, end, ctx, ${where})` : `r.int(b, p, end)`;
      const range = s.kind === "keys"
        ? `if (x < 0 || x >= ctx.maxKey) throw h.outOfRange(${where}, x, \`[0, \${ctx.maxKey})\`);`
        : s.kind === "seqs"
        ? `if (x < 0) throw h.outOfRange(${where}, x, "[0, 2^53)");`
        : "";
      return `{ const m = r.array(b, p, end); p = r.at;
        if (m < ${s.min ?? 0} || m > ${s.max}) throw h.outOfRange(${where}, m + " items", "[${
        s.min ?? 0
      }, ${s.max}] items");
        ${v} = new Array(m);
        for (let i = 0; i < m; i++) { const x = ${item}; p = r.at; ${range} ${v}[i] = x; } }`;
    }
    case "payload":
      return `${v} = r.bytes(b, p, end, end); p = r.at;`;
    default:
      return numberRead(s.kind, s, v, where);
  }
}

/** Refuses declarations the code generation does not handle (a mistake in the schema). */
function checkSpec(name: string, spec: FrameSpec): void {
  for (const [f, s] of Object.entries(spec.fields)) {
    if (s.kind !== "rows") continue;
    if (!s.of || s.max === undefined) throw new Error(`${name}.${f}: rows need "of" and "max"`);
    for (const [g, r] of Object.entries(s.of)) {
      if (r.kind === "rows" || r.kind === "payloads" || r.peer) {
        throw new Error(`${name}.${f}.${g}: a record cannot hold ${r.peer ? "peer" : r.kind}`);
      }
    }
  }
}

function compile(name: FrameName, spec: FrameSpec): Compiled {
  checkSpec(name, spec);
  const entries = Object.entries(spec.fields);
  const tail = entries.length > 0 && entries[entries.length - 1][1].kind === "payloads"
    ? entries[entries.length - 1]
    : null;
  const fixed = tail ? entries.slice(0, -1) : entries;
  const S = "spec.fields";
  const local = (f: string) => `v_${f}`;
  const wh = (f: string) => `"${name}", "${f}"`;

  // bound
  const boundBody = [
    "let n = 12;",
    ...entries.map(([f, s]) =>
      s.optional
        ? `if (f.${f} !== undefined) { ${boundCode(s, `f.${f}`)} } else n += 1;`
        : boundCode(s, `f.${f}`)
    ),
    "return n;",
  ].join("\n");

  // write
  const writeBody = [
    tail
      ? `const cnt = ${1 + fixed.length} + f.${tail[0]}.length;
         buf[p] = h.ARRAY16; buf[p + 1] = cnt >>> 8; buf[p + 2] = cnt & 0xff; p += 3;`
      : `p = h.headAt(buf, view, p, 0x80, ${1 + entries.length});`,
    `p = h.intAt(buf, view, p, ${spec.t});`,
    ...entries.map(([f, s]) => {
      const code = writeCode(s, `f.${f}`, `${S}.${f}`);
      return s.optional ? `if (f.${f} === undefined) buf[p++] = h.NULL; else { ${code} }` : code;
    }),
    "return p;",
  ].join("\n");

  // read
  const readLines: string[] = [];
  if (tail) {
    readLines.push(
      `const np = n - ${fixed.length};`,
      `if (np < ${tail[1].min ?? 0} || np > ${
        tail[1].max
      }) throw h.error("malformed", "${name} carries " + np + " payloads, not ${tail[1].min ?? 0}–${
        tail[1].max
      }");`,
    );
  } else {
    readLines.push(
      `if (n !== ${fixed.length}) throw h.error("malformed", "${name} has " + n + " fields, not ${fixed.length}");`,
    );
  }
  if (entries.length > 0) readLines.push(`let ${entries.map(([f]) => local(f)).join(", ")};`);
  for (const [f, s] of fixed) {
    const code = readCode(s, local(f), wh(f), `${S}.${f}`);
    readLines.push(
      s.optional ? `if (r.absent(b, p, end)) p = r.at; else { ${code} }` : code,
    );
  }
  if (tail) {
    const v = local(tail[0]);
    readLines.push(
      `${v} = new Array(np);`,
      `for (let i = 0; i < np; i++) { ${v}[i] = r.bytes(b, p, end, end); p = r.at; }`,
    );
  }
  readLines.push(
    `if (p !== end) throw h.error("malformed", "${name} has " + (end - p) + " bytes after its last field");`,
  );
  for (const [f, s] of entries) {
    if (s.peer === "always") {
      readLines.push(
        `if (!h.peerIs(${
          local(f)
        }, ctx)) throw h.error("spoofed", "${name}.${f} does not name the peer of the link");`,
      );
    } else if (s.peer === "firstHop") {
      readLines.push(
        `if (v_h <= 1 && ${local(f)} !== undefined && !h.peerIs(${
          local(f)
        }, ctx)) throw h.error("spoofed", "${name}.${f} does not name the peer that sent this first hop");`,
      );
    }
  }
  readLines.push(
    `const frame = { t: ${spec.t}, ${entries.map(([f]) => `${f}: ${local(f)}`).join(", ")} };`,
  );
  if (spec.check) {
    readLines.push(
      `const why = spec.check(frame, ctx); if (why !== null) throw h.error("rule", "${name}: " + why);`,
    );
  }
  readLines.push("return frame;");

  // merge
  let mergeBody: string | null = null;
  if (spec.merge && tail) {
    const { seq, unless } = spec.merge;
    const same = fixed
      .filter(([f]) => f !== seq && !unless.includes(f))
      .map(([f, s]) => s.kind === "node" ? `h.sameOpt(f.${f}, last.${f})` : `f.${f} === last.${f}`);
    const ps = tail[0];
    mergeBody = [
      `if (last.t !== ${spec.t}) return -1;`,
      ...unless.map((f) => `if (f.${f} !== undefined || last.${f} !== undefined) return -1;`),
      `if (f.${seq} !== last.${seq} + last.${ps}.length) return -1;`,
      `if (!(${same.join(" && ")})) return -1;`,
      `const cnt = ((buf[body + 1] << 8) | buf[body + 2]) + f.${ps}.length;`,
      `if (cnt > 0xffff) return -1;`,
      `let size = 0; for (const x of f.${ps}) size += h.headSize(x.length) + x.length;`,
      `if (end + size - body > maxBody) return -1;`,
      `let p = end; for (const x of f.${ps}) p = h.bytesAt(buf, view, p, x);`,
      `buf[body + 1] = cnt >>> 8; buf[body + 2] = cnt & 0xff;`,
      `return p;`,
    ].join("\n");
  }

  const source = [
    `// bound\n${boundBody}`,
    `// write\n${writeBody}`,
    `// read\n${readLines.join("\n")}`,
    mergeBody ? `// merge\n${mergeBody}` : "",
  ].join("\n\n");
  const make = <F>(params: string, body: string): F =>
    new Function("h", "spec", `return function (${params}) {\n${body}\n};`)(helpers, spec) as F;
  return {
    name,
    spec,
    bound: make("f", boundBody),
    write: make("f, buf, view, p", writeBody),
    read: make("b, p, end, n, ctx, r", readLines.join("\n")),
    merge: mergeBody ? make("last, f, buf, view, body, end, maxBody", mergeBody) : null,
    source,
  };
}

/**
 * The codec of a schema: every frame type's writer, reader and merger.
 *
 * @example A data frame round trip
 * ```ts
 * import { Codec } from "./codec.ts";
 * import { T, type Frame } from "./schema.ts";
 * import assert from "node:assert/strict";
 *
 * const codec = new Codec();
 * const frame: Frame = {
 *   t: T.Data, k: 42, h: 1, ph: 0, f: -1, s: undefined, r: true, id: 7, q: undefined,
 *   lo: undefined, ps: [new Uint8Array([0x61, 0x78])],
 * };
 * const body = codec.encode(frame);
 * const peer = { id: 3, ap: { hostname: "127.0.0.1", port: 4000 } };
 * const back = codec.reader().read(body, 0, body.length, { maxKey: 100, peer });
 * assert.deepEqual(back, frame);
 * assert.throws(
 *   () => codec.reader().read(body, 0, body.length, { maxKey: 10, peer }),
 *   /Data.k is 42, outside \[0, 10\)/,
 * );
 * ```
 */
export class Codec {
  readonly #byType: (Compiled | undefined)[] = [];

  /** Compiles the codec of {@linkcode SCHEMA}. */
  constructor() {
    for (const [name, spec] of Object.entries(SCHEMA) as [FrameName, FrameSpec][]) {
      if (this.#byType[spec.t]) throw new Error(`Frame type ${spec.t} is declared twice`);
      this.#byType[spec.t] = compile(name, spec);
    }
  }

  #of(t: number): Compiled {
    const c = this.#byType[t];
    if (!c) throw new TypeError(`No frame type ${t} in the schema`);
    return c;
  }

  /** The name of frame type `t`, or `undefined` when the schema has none. */
  nameOf(t: number): FrameName | undefined {
    return this.#byType[t]?.name;
  }

  /** Whether frames of type `t` are the transport's own (handshake and link control). */
  isLinkFrame(t: number): boolean {
    return this.#byType[t]?.spec.link === true;
  }

  /** The compiled code of frame type `t` (for readers of this module and for debugging). */
  source(t: number): string {
    return this.#of(t).source;
  }

  /** An upper bound of the bytes `frame`'s body takes. */
  bound(frame: Frame): number {
    return this.#of(frame.t).bound(frame);
  }

  /**
   * Writes `frame`'s body into `buf` at `p` and returns where it ends; room for
   * {@linkcode Codec.bound} bytes is the caller's.
   */
  write(frame: Frame, buf: Uint8Array, view: DataView, p: number): number {
    return this.#of(frame.t).write(frame, buf, view, p);
  }

  /**
   * Appends the messages of `frame` to the body `buf[body..end)` of `last` (the frame written
   * last) when the schema lets them share it and the body stays within `maxBody` bytes: returns
   * the new end, or −1 (nothing written). Room for {@linkcode Codec.bound} bytes of `frame` is the
   * caller's.
   */
  merge(
    last: Frame,
    frame: Frame,
    buf: Uint8Array,
    view: DataView,
    body: number,
    end: number,
    maxBody: number,
  ): number {
    const m = this.#byType[frame.t]?.merge;
    return m ? m(last, frame, buf, view, body, end, maxBody) : -1;
  }

  /** The body of `frame` in a buffer of its own. */
  encode(frame: Frame): Uint8Array {
    const buf = new Uint8Array(this.bound(frame));
    const end = this.write(frame, buf, new DataView(buf.buffer), 0);
    return buf.subarray(0, end);
  }

  /** A reader for one link. */
  reader(): FrameReader {
    const r = new NodeReader();
    const byType = this.#byType;
    return {
      read(b, start, end, ctx) {
        const n = r.array(b, start, end);
        if (n === 0) throw new WireError("malformed", "An empty frame has no type");
        const t = r.uint(b, r.at, end);
        const c = t < byType.length ? byType[t] : undefined;
        if (!c) throw new WireError("type", `Frame type ${t} does not exist`);
        return c.read(b, r.at, end, n - 1, ctx, r);
      },
    };
  }
}
