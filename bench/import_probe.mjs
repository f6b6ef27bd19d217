/**
 * Loads the module named by its first argument, or nothing: what the import-cost benchmark times. Prints the
 * milliseconds the import took, timed in process (the runtime's own start and exit, and their noise, left out).
 */
// Under Deno, touching `process` loads Node compatibility (~25 ms): read Deno.args there.
const target = globalThis.Deno ? globalThis.Deno.args[0] : globalThis.process.argv[2];
const started = performance.now();
if (target) await import(target);
console.log((performance.now() - started).toFixed(3));
