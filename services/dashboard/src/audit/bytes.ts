/**
 * Raw bytes shown safely: a refused message may be anything (binary, broken UTF-8, a script
 * tag, terminal escapes), so it is shown as text React escapes — a hex and ASCII dump of its
 * bytes, and its preview with every control or invisible character spelled out.
 */

/** The bytes of msgspec's base64 encoding of `bytes`; null when it is not base64. */
export function base64Bytes(data: string): Uint8Array | null {
  const clean = data.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1) return null;
  let binary: string;
  try {
    binary = atob(clean);
  } catch {
    return null;
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export const DUMP_WIDTH = 16;
/** Bytes dumped at most (a dead letter may be up to NATS's max payload). */
export const DUMP_LIMIT = 64 * 1024;

export interface HexDump {
  /** `00000000  7b 22 61 22 3a 31 7d 0a                           |{"a":1}.|` */
  lines: string[];
  /** Bytes in the dump (≤ total). */
  shown: number;
  total: number;
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}

/** Printable ASCII (0x20–0x7e) as itself, every other byte as ".". */
function ascii(byte: number): string {
  return byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : ".";
}

/** The classic `hexdump -C` layout: offset, 16 bytes in two groups of 8, their ASCII. */
export function hexDump(bytes: Uint8Array, limit = DUMP_LIMIT): HexDump {
  const shown = Math.min(bytes.length, limit);
  const lines: string[] = [];
  for (let offset = 0; offset < shown; offset += DUMP_WIDTH) {
    const row = bytes.subarray(offset, Math.min(offset + DUMP_WIDTH, shown));
    let hexPart = "";
    for (let i = 0; i < DUMP_WIDTH; i++) {
      hexPart += i < row.length ? `${hex(row[i]!, 2)} ` : "   ";
      if (i === 7) hexPart += " ";
    }
    lines.push(`${hex(offset, 8)}  ${hexPart} |${Array.from(row, ascii).join("")}|`);
  }
  return { lines, shown, total: bytes.length };
}

/** Text with every control, format or separator character other than a space written as an
 * escape (`\n`, `\t`, `\x1b`, `\u202e`), so nothing in it can hide or reorder what is shown. */
export function visibleText(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/gu, (char) => {
    switch (char) {
      case "\n":
        return "\\n";
      case "\r":
        return "\\r";
      case "\t":
        return "\\t";
    }
    const code = char.codePointAt(0)!;
    return code < 0x100 ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`;
  });
}

/** Like `visibleText`, but keeps line breaks and tabs (a stack trace, pretty-printed JSON). */
export function visibleLines(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => line.split("\t").map(visibleText).join("\t"))
    .join("\n");
}
