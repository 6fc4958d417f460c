import { describe, expect, it } from "vitest";
import { ApiError } from "../api/http";
import { emptySendForm, sendErrorsOf, validateSend } from "./sendForm";
import { fieldOfError } from "./types";

describe("the send form", () => {
  it("builds the API's body: everyone wins over roles and users", () => {
    const { body } = validateSend({ ...emptySendForm(), everyone: true, roles: ["admin"], title: " Maintenance ", body: "at 6" });
    expect(body).toEqual({ recipients: { everyone: true }, kind: "info", title: "Maintenance", body: "at 6" });
    const some = validateSend({ ...emptySendForm(), roles: ["instructor"], users: ["u1"], title: "x", linkKind: "series", linkTarget: "h1:cpu" });
    expect(some.body).toEqual({
      recipients: { roles: ["instructor"], users: ["u1"] },
      kind: "info",
      title: "x",
      link: { kind: "series", target: "h1:cpu" },
    });
  });

  it("names what is missing or too long", () => {
    const { body, errors } = validateSend({ ...emptySendForm(), body: "x".repeat(4001), linkKind: "student", linkTarget: "py101" });
    expect(body).toBeNull();
    expect(Object.keys(errors).sort()).toEqual(["body", "link", "recipients", "title"]);
    expect(validateSend({ ...emptySendForm(), everyone: true, title: "t".repeat(201) }).errors.title).toMatch(/At most 200/);
  });

  it("places a refusal on its field, by parameter or by code", () => {
    expect(sendErrorsOf(new ApiError(422, "invalid", "unknown user u9", "recipients.users[0]"))).toEqual({ recipients: "unknown user u9" });
    expect(sendErrorsOf(new ApiError(400, "empty_title", "the title is empty"))).toEqual({ title: "the title is empty" });
    expect(sendErrorsOf(new ApiError(422, "invalid", "bad", "$.link.target"))).toEqual({ link: "bad" });
    expect(sendErrorsOf(new ApiError(403, "forbidden", "admins only"))).toEqual({ form: "admins only" });
    expect(sendErrorsOf(new ApiError(503, "unavailable", "try later", "title"))).toEqual({ form: "try later" });
  });

  it("finds fields in nested parameters", () => {
    expect(fieldOfError({ code: "invalid", parameter: "condition.for_s" }, ["name", "for_s"])).toBe("for_s");
    expect(fieldOfError({ code: "negative_duration" }, ["for_s"])).toBe("for_s");
    expect(fieldOfError({ code: "invalid_metric" }, ["metric"])).toBe("metric");
    expect(fieldOfError({ code: "nope", parameter: "x.y" }, ["name"])).toBeNull();
  });
});
