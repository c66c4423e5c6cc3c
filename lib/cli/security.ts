/**
 * The command line's security options: the network secret, read from a file (`--secret-file`)
 * or the `P2PS_SECRET` environment variable but never from the command line (every user of the
 * machine sees command lines in `ps`); the node's static key, kept in a file of its owner's
 * (`--key`, made when missing); the encryption (`--encryption`) and key-derived ids
 * (`--id-from-key`).
 *
 * @module
 */

import { StartError, UsageError, type Values } from "./options.ts";

/**
 * The environment variable a secret may come from.
 *
 * @example
 * ```ts
 * import { SECRET_ENV } from "./security.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(SECRET_ENV, "P2PS_SECRET");
 * ```
 */
export const SECRET_ENV = "P2PS_SECRET";

/** Bytes of a key file: an X25519 private key, raw. */
const KEY_SIZE = 32;

/** The security options of a node, as `createNet`/`joinNet` take them. */
export interface SecurityChoice {
  /** The network secret, if any. */
  secret?: string;
  /** The node's static private key, if a key file was given. */
  identity?: Uint8Array;
  /** The encryption insisted on, if any. */
  encryption?: "noise" | "none";
  /** Ids derived from keys (create only). */
  idFromKey?: boolean;
}

/** Runs a file operation; a missing permission becomes a {@linkcode StartError} that says so. */
function withFile<T>(path: string, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new StartError(`Cannot ${what} ${path}: ${(e as Error).message} (run with -A)`);
    }
    if (e instanceof Deno.errors.NotFound) throw new StartError(`${path} does not exist`);
    throw new StartError(`Cannot ${what} ${path}: ${(e as Error).message}`);
  }
}

/**
 * Refuses a file that users other than its owner may read or write (group or other permission
 * bits), as ssh does for its keys. Platforms without modes (Windows) are not checked.
 *
 * @throws {StartError} naming the file, its mode and the fix.
 *
 * @example
 * ```ts
 * import { checkPrivate } from "./security.ts";
 * import { StartError } from "./options.ts";
 * import assert from "node:assert/strict";
 *
 * const path = Deno.makeTempFileSync();
 * Deno.chmodSync(path, 0o644);
 * assert.throws(() => checkPrivate(path, "Key file"), StartError, "chmod 600");
 * Deno.chmodSync(path, 0o600);
 * checkPrivate(path, "Key file");
 * Deno.removeSync(path);
 * ```
 */
export function checkPrivate(path: string, what: string): void {
  const mode = withFile(path, "read", () => Deno.statSync(path)).mode;
  if (mode === null || (mode & 0o077) === 0) return;
  const octal = (mode & 0o777).toString(8).padStart(4, "0");
  throw new StartError(
    `${what} ${path} may be read or written by other users (mode ${octal}): ` +
      `run chmod 600 ${path}`,
  );
}

/**
 * The node's static private key from `path`, made there (32 random bytes, mode 0600) when the
 * file does not exist.
 *
 * @throws {StartError} for a file other users may access, one that is not 32 bytes long, or
 * one that cannot be read or made.
 *
 * @example A key file is made once and read from then on
 * ```ts
 * import { loadKey } from "./security.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = Deno.makeTempDirSync();
 * const key = loadKey(`${dir}/node.key`);
 * assert.equal(key.length, 32);
 * assert.equal(Deno.statSync(`${dir}/node.key`).mode! & 0o777, 0o600);
 * assert.deepEqual(loadKey(`${dir}/node.key`), key);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function loadKey(path: string): Uint8Array {
  const fresh = crypto.getRandomValues(new Uint8Array(KEY_SIZE));
  const made = withFile(path, "create", () => {
    try {
      // Made with its final mode in one step: there is no moment others could read it.
      Deno.writeFileSync(path, fresh, { mode: 0o600, createNew: true });
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) return false;
      throw e;
    }
  });
  checkPrivate(path, "Key file");
  if (made) return fresh;
  const key = withFile(path, "read", () => Deno.readFileSync(path));
  if (key.length !== KEY_SIZE) {
    throw new StartError(
      `Key file ${path} holds ${key.length} bytes, not the ${KEY_SIZE} bytes of an X25519 ` +
        "private key (give a path that does not exist to have one made)",
    );
  }
  return key;
}

/**
 * The network secret: the contents of `--secret-file` (one trailing newline dropped), or the
 * `P2PS_SECRET` environment variable when its permission is granted (`env` gives it). Giving
 * both is a mistake.
 *
 * @throws {UsageError} when both are given; {@linkcode StartError} for an empty secret or a
 * secret file other users may access.
 *
 * @example
 * ```ts
 * import { readSecret } from "./security.ts";
 * import { parse } from "./options.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(readSecret(parse([]).values, () => "from the environment"), "from the environment");
 * assert.equal(readSecret(parse([]).values, () => undefined), undefined);
 * ```
 */
export function readSecret(
  values: Values,
  env: (name: string) => string | undefined = environment,
): string | undefined {
  const path = values["secret-file"];
  const fromEnv = env(SECRET_ENV);
  if (path !== undefined && fromEnv !== undefined) {
    throw new UsageError(`Give the secret once: --secret-file or ${SECRET_ENV}, not both`);
  }
  if (path === undefined && fromEnv === undefined) return undefined;
  let secret: string;
  if (path !== undefined) {
    checkPrivate(path, "Secret file");
    secret = withFile(path, "read", () => Deno.readTextFileSync(path)).replace(/\r?\n$/, "");
  } else secret = fromEnv!;
  if (secret.length === 0) {
    throw new StartError(path ? `Secret file ${path} is empty` : `${SECRET_ENV} is empty`);
  }
  return secret;
}

/** `P2PS_SECRET` if the process may read it (it is not asked for: no prompt). */
function environment(name: string): string | undefined {
  const granted = Deno.permissions.querySync({ name: "env", variable: name }).state === "granted";
  return granted ? Deno.env.get(name) : undefined;
}

/**
 * The security options of `create` or `join`, checked against each other.
 *
 * @throws {UsageError} for options that contradict each other; {@linkcode StartError} for
 * unusable files.
 *
 * @example
 * ```ts
 * import { securityChoice } from "./security.ts";
 * import { parse, UsageError } from "./options.ts";
 * import assert from "node:assert/strict";
 *
 * const none = parse(["--encryption", "none"]).values;
 * assert.deepEqual(securityChoice("create", none, () => undefined), { encryption: "none" });
 * assert.throws(() => securityChoice("create", none, () => "s3cret"), UsageError);
 * ```
 */
export function securityChoice(
  command: "create" | "join",
  values: Values,
  env: (name: string) => string | undefined = environment,
): SecurityChoice {
  const choice: SecurityChoice = {};
  const encryption = values.encryption;
  if (encryption !== undefined) {
    if (encryption !== "noise" && encryption !== "none") {
      throw new UsageError(`--encryption must be "noise" or "none", got "${encryption}"`);
    }
    choice.encryption = encryption;
  }
  if (values["id-from-key"]) {
    if (command !== "create") throw new UsageError('--id-from-key applies to "create" only');
    if (values.id !== undefined) {
      throw new UsageError("--id cannot be given with --id-from-key: the id is the key's");
    }
    choice.idFromKey = true;
  }
  const secret = readSecret(values, env);
  if (secret !== undefined) choice.secret = secret;
  if (encryption === "none" && (secret !== undefined || choice.idFromKey)) {
    throw new UsageError(
      `--encryption none cannot be given with a secret or --id-from-key: both need encryption`,
    );
  }
  if (values.key !== undefined) choice.identity = loadKey(values.key);
  return choice;
}
