import { describe, expect, it } from "vitest";
import { formatBytes, formatValue, resolutionLabel, significant } from "./format";

describe("formatValue", () => {
  it("shows percent, bytes and other units sensibly", () => {
    expect(formatValue(23.456, "percent")).toBe("23.5 %");
    expect(formatValue(100, "percent")).toBe("100 %");
    expect(formatValue(0.5, "percent")).toBe("0.5 %");
    expect(formatValue(512, "bytes")).toBe("512 B");
    expect(formatValue(1536, "bytes")).toBe("1.5 KiB");
    expect(formatValue(3_000_000_000, "bytes")).toBe("2.79 GiB");
    expect(formatValue(21.4567, "celsius")).toBe("21.5 °C");
    expect(formatValue(1013.25, "hPa")).toBe("1013 hPa");
    expect(formatValue(0.012345, null)).toBe("0.0123");
    expect(formatValue(12_345_678, null)).toBe("12.3 M");
    expect(formatValue(null, "percent")).toBe("—");
    expect(formatValue(Number.NaN, "percent")).toBe("—");
  });

  it("keeps three significant digits", () => {
    expect(significant(1.23456)).toBe("1.23");
    expect(significant(-45.678)).toBe("-45.7");
    expect(significant(0)).toBe("0");
    expect(formatBytes(1024 ** 3 * 1.5)).toBe("1.5 GiB");
  });

  it("labels bucket widths like the gateway", () => {
    expect(resolutionLabel(0)).toBe("raw");
    expect(resolutionLabel(5_000)).toBe("5s");
    expect(resolutionLabel(60_000)).toBe("1m");
    expect(resolutionLabel(7_200_000)).toBe("2h");
    expect(resolutionLabel(86_400_000)).toBe("1d");
  });
});
