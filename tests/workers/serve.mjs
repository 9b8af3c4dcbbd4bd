// Runs a Worker script in the real Workers runtime (workerd, through Miniflare) for the tests.
//
// Usage: node serve.mjs SCRIPT COMPATIBILITY_DATE
// Listens on 127.0.0.1 on a free port and prints {"url": "http://127.0.0.1:PORT"} on one
// line once ready. Then reads commands from stdin, one JSON object per line:
//   {"script": PATH}  reload with another script; answers {"ok": true} once it serves it.
// Exits when stdin closes.
import { Miniflare } from "miniflare";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const [scriptPath, compatibilityDate] = process.argv.slice(2);

// The module keeps the name it is uploaded under (see providers/cloudflare/worker.py).
function options(path) {
  const modules = [{ type: "ESModule", path: "mtasts.mjs", contents: readFileSync(path, "utf8") }];
  return { modules, compatibilityDate, host: "127.0.0.1", port: 0 };
}

const mf = new Miniflare(options(scriptPath));
const url = await mf.ready;
process.stdout.write(JSON.stringify({ url: url.origin }) + "\n");

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  try {
    const command = JSON.parse(line);
    await mf.setOptions({ ...options(command.script), port: Number(new URL(url).port) });
    process.stdout.write(JSON.stringify({ ok: true }) + "\n");
  } catch (error) {
    process.stdout.write(JSON.stringify({ ok: false, error: String(error) }) + "\n");
  }
}
await mf.dispose();
