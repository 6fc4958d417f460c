import { describe, expect, it } from "vitest";
import { base64Bytes, hexDump, visibleLines, visibleText } from "./bytes";

function bytesOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

describe("base64 bytes", () => {
  it("decodes msgspec's base64 of bytes, and refuses what is not base64", () => {
    expect(Array.from(base64Bytes("AAH/")!)).toEqual([0, 1, 255]);
    expect(Array.from(base64Bytes("eyJhIjoxfQ==")!)).toEqual(Array.from(bytesOf('{"a":1}')));
    expect(base64Bytes("")!.length).toBe(0);
    expect(base64Bytes("not base64!")).toBeNull();
    expect(base64Bytes("A")).toBeNull();
  });
});

describe("the hex dump", () => {
  it("shows offset, 16 bytes in two groups of 8, and their printable ASCII", () => {
    const dump = hexDump(bytesOf('{"value": 1.5}\n<script>\x00\x1b'));
    expect(dump.total).toBe(25);
    expect(dump.shown).toBe(25);
    expect(dump.lines).toEqual([
      '00000000  7b 22 76 61 6c 75 65 22  3a 20 31 2e 35 7d 0a 3c  |{"value": 1.5}.<|',
      "00000010  73 63 72 69 70 74 3e 00  1b                       |script>..|",
    ]);
  });

  it("shows non-ASCII and high bytes as dots, and stops at the limit", () => {
    const bytes = new Uint8Array([0xc3, 0xa9, 0x7f, 0x80, 0xff, 0x41]);
    expect(hexDump(bytes).lines).toEqual(["00000000  c3 a9 7f 80 ff 41                                 |.....A|"]);
    const big = new Uint8Array(100).fill(0x61);
    const dump = hexDump(big, 40);
    expect(dump.shown).toBe(40);
    expect(dump.total).toBe(100);
    expect(dump.lines).toHaveLength(3);
    expect(dump.lines[2]).toBe("00000020  61 61 61 61 61 61 61 61                           |aaaaaaaa|");
  });

  it("is empty for no bytes", () => {
    expect(hexDump(new Uint8Array(0))).toEqual({ lines: [], shown: 0, total: 0 });
  });
});

describe("visible text", () => {
  it("spells out control, format and invisible characters, leaves the rest (and markup) as text", () => {
    expect(visibleText("a\nb\tc\r\x00\x1b[31m")).toBe("a\\nb\\tc\\r\\x00\\x1b[31m");
    expect(visibleText("evil\u202Etxt.exe\u200B")).toBe("evil\\u202etxt.exe\\u200b");
    expect(visibleText("<img src=x onerror=alert(1)> é 漢")).toBe("<img src=x onerror=alert(1)> é 漢");
    expect(visibleText("\u00a0")).toBe("\\xa0");
  });

  it("keeps line breaks and tabs in a stack trace", () => {
    expect(visibleLines('Traceback:\r\n\tFile "x.py"\u202E\n')).toBe('Traceback:\n\tFile "x.py"\\u202e\n');
  });
});
