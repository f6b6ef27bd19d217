/** Loads the module named by its first argument, or nothing: what the import-cost benchmark times. */
// Under Deno, touching `process` loads Node compatibility (~25 ms): read Deno.args there.
const target = globalThis.Deno ? globalThis.Deno.args[0] : globalThis.process.argv[2];
if (target) await import(target);
