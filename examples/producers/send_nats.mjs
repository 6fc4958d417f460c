// Publish metric points to Pulse over NATS with the `nats` npm package (v2): request/reply,
// a batch per message, safe retries. See docs/producers.md.
//
//   npm install && node send_nats.mjs
//
// Environment: PULSE_NATS_URL (default nats://127.0.0.1:4222; in production a producer has its
// own user: nats://producer:<password>@nats.example.com:4222), SOURCE (default js-example),
// NAME (default room_temp), COUNT (default 60).
import { randomBytes } from "node:crypto";
import { connect, ErrorCode, headers, JSONCodec } from "nats";

const SUBJECT = "ingest.metrics";
const REQUEST_TIMEOUT_MS = 10_000; // longer than ingest's JetStream publish timeout (5 s by default)
const ATTEMPTS = 5;

const url = process.env.PULSE_NATS_URL ?? "nats://127.0.0.1:4222";
const source = process.env.SOURCE ?? "js-example";
const name = process.env.NAME ?? "room_temp";
const count = Number(process.env.COUNT ?? 60);

const jc = JSONCodec();

// `count` points one second apart, ending now. toISOString() is RFC 3339 in UTC ("…Z").
function makePoints() {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => ({
    time: new Date(now - (count - 1 - i) * 1000).toISOString(),
    source,
    name,
    value: 20 + (i % 10) / 10,
    unit: "celsius",
    tags: { room: "kitchen" },
  }));
}

// As few messages as possible, each under the server's max payload (1 MiB by default).
function messages(points, maxPayload) {
  const payload = jc.encode(points);
  if (payload.length <= maxPayload || points.length === 1) return [payload];
  const half = Math.floor(points.length / 2);
  return [...messages(points.slice(0, half), maxPayload), ...messages(points.slice(half), maxPayload)];
}

class Refused extends Error {}

// Request/reply: resolves to how many points JetStream stored; retries what may be transient.
async function send(nc, payload) {
  const h = headers();
  h.set("Content-Type", "application/json");
  h.set("traceparent", `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`);
  let delay = 500;
  for (let attempt = 1; ; attempt++) {
    let msg;
    try {
      msg = await nc.request(SUBJECT, payload, { timeout: REQUEST_TIMEOUT_MS, headers: h });
    } catch (err) {
      // No ingest running, or no answer in time (the points may or may not be stored):
      // sending the same points again is safe, Pulse stores them once.
      const transient = err.code === ErrorCode.NoResponders || err.code === ErrorCode.Timeout;
      if (!transient) throw err;
      if (attempt === ATTEMPTS) throw new Error(`no answer after ${ATTEMPTS} attempts: send again later`);
      const what = err.code === ErrorCode.Timeout ? "no answer in time" : "no responders (is ingest running?)";
      console.error(`attempt ${attempt}: ${what}, retrying in ${delay} ms`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay *= 2;
      continue;
    }
    // Always JSON: {"accepted": n}, {"error": "…"} or {"error": "…", "retryable": true}.
    const reply = jc.decode(msg.data);
    if (reply.error === undefined) return reply.accepted;
    if (!reply.retryable || attempt === ATTEMPTS) throw new Refused(reply.error);
    // Valid points Pulse could not store just now: the same message again is safe.
    console.error(`attempt ${attempt}: ${reply.error}, retrying in ${delay} ms`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay *= 2;
  }
}

const nc = await connect({ servers: url, name: "pulse-example-producer-js" });
let exitCode = 0;
try {
  const points = makePoints();
  for (const payload of messages(points, nc.info.max_payload)) {
    const accepted = await send(nc, payload);
    console.log(`application/json: ${payload.length} bytes -> accepted ${accepted}`);
  }
  const from = points[0].time.slice(0, 19) + "Z";
  console.log(
    `read them back: GET http://127.0.0.1:8000/api/v1/metrics?name=${name}&source=${source}&from=${from}`,
  );
} catch (err) {
  console.error(err instanceof Refused ? `refused: ${err.message}` : `failed: ${err.message}`);
  exitCode = err instanceof Refused ? 1 : 2;
} finally {
  await nc.drain();
}
process.exitCode = exitCode;
