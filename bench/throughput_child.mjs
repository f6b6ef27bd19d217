/**
 * A long-lived host for the throughput benchmark. `deliver N W`: enqueue N
 * events in chunks of 500, flushing after each, and time the first W events
 * (a fresh process: the runtime still compiling the code it runs) and the rest
 * (a long-lived host) apart, in the wire format NAT_BENCH_FORMAT names (`nat`
 * or `otlp`); `baseline N W`: the same envelopes built with JSON.stringify and
 * POSTed with fetch, nothing else, timed the same way; `outage N`: a sustained
 * stream against a refused endpoint, sampling memory (the live heap after a
 * full collection, and RSS).
 * Prints one JSON line.
 *
 * @module
 */
const args = globalThis.Deno ? globalThis.Deno.args : globalThis.process.argv.slice(2);
const env = (name) => globalThis.Deno ? globalThis.Deno.env.get(name) : globalThis.process.env[name];
const [mode, count, warm] = [args[0], Number(args[1]), Number(args[2] ?? 0)];
const endpoint = env("NAT_TELEMETRY_ENDPOINT");
const memory = () => globalThis.Deno ? globalThis.Deno.memoryUsage() : globalThis.process.memoryUsage();
/** Live heap after a full collection (the runtimes are started with GC exposed), and RSS, in MB. */
const sample = () => {
  if (globalThis.gc) globalThis.gc();
  else globalThis.Bun?.gc(true);
  const { heapUsed, rss } = memory();
  return { heapMb: heapUsed / 1048576, rssMb: rss / 1048576 };
};
const {
  CliCommandEvent,
  NATTelemetryHandler,
  buildPayload,
  setTelemetryEnabled,
} = await import(
  env("NAT_BENCH_MODULE")
);
setTelemetryEnabled(true);
// A command's fixed name, as a CLI records (one like `e1000` is refused as a name: four digits may be a user's data),
// each event told apart by its duration.
const event = (i) =>
  new CliCommandEvent({
    command: "bench",
    taskStatus: "success",
    durationMs: i,
    exitCode: 0,
  });
const CHUNK = 500;
// The first `warm` events are timed apart at the end of a chunk: a count between chunks would never be reached.
if (mode !== "outage" && (!(warm > 0) || warm % CHUNK !== 0 || warm >= count)) {
  throw new RangeError(`the events timed apart must be a multiple of ${CHUNK} below ${count}, got ${args[2]}`);
}

/** Events per second in the first `warm` events and in the rest, from when each chunk ended and what it delivered. */
const rates = () => {
  const started = performance.now();
  let warmedAt = started;
  let warmDelivered = 0;
  return {
    chunkDone(next, delivered) {
      if (next === warm) [warmedAt, warmDelivered] = [performance.now(), delivered];
    },
    result(delivered) {
      const ended = performance.now();
      return {
        firstEventsPerSecond: warmDelivered / ((warmedAt - started) / 1000),
        laterEventsPerSecond: (delivered - warmDelivered) / ((ended - warmedAt) / 1000),
      };
    },
  };
};

if (mode === "baseline") {
  const timing = rates();
  for (let i = 0; i < count; i += CHUNK) {
    const events = Array.from({ length: CHUNK }, (_, j) => event(i + j));
    const body = JSON.stringify(
      buildPayload(events, {
        sourceClientVersion: "bench",
        sessionId: "bench",
      }),
    );
    const response = await fetch(endpoint, {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
    });
    await response.body?.cancel();
    // The loop counts what it sent as delivered: an answer that says otherwise makes the run worthless, not faster.
    if (!response.ok) throw new Error(`the collector answered ${response.status}`);
    timing.chunkDone(i + CHUNK, i + CHUNK);
  }
  console.log(JSON.stringify(timing.result(count)));
} else {
  const format = env("NAT_BENCH_FORMAT") ?? "nat";
  const handler = new NATTelemetryHandler({
    endpoint,
    spoolDir: false,
    maxQueueSize: 50,
    format,
  });
  const samples = [];
  const timing = rates();
  for (let i = 0; i < count; i += CHUNK) {
    for (let j = 0; j < CHUNK; j++) handler.enqueue(event(i + j));
    await handler.flush();
    timing.chunkDone(i + CHUNK, handler.stats().sent);
    // Memory is sampled only in an outage: a full collection inside a timed delivery run would be timed with it.
    if (
      mode === "outage" &&
      (i / CHUNK) % Math.max(1, Math.floor(count / CHUNK / 10)) === 0
    ) {
      samples.push(sample());
    }
  }
  const rate = timing.result(handler.stats().sent);
  await handler.stop();
  console.log(JSON.stringify({ ...rate, samples, stats: handler.stats() }));
}
