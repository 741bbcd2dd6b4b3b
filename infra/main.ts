// `npm run synth`: writes the Terraform JSON of every stack to infra/cdktf.out/stacks/<stack>/cdk.tf.json,
// then checks each against the guardrails (exit 1 when one is broken). That JSON is the contract: the
// workflows — and anyone leaving CDKTF — run plain `terraform` on it.
import { App } from 'cdktf';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildApp } from './app.js';
import { InfraConfigError, loadConfig } from './config.js';
import { guardrailViolations } from './guardrails.js';

const infraDir = fileURLToPath(new URL('.', import.meta.url));

try {
  const config = loadConfig(infraDir, process.env, (line) => process.stderr.write(`${line}\n`));
  const outdir = process.env.PGSHIFT_INFRA_OUTDIR || `${infraDir}cdktf.out`;
  const built = buildApp(config, new App({ outdir, stackTraces: false }));
  built.app.synth();
  const stacks = built.app.node.children.map((c) => c.node.id);
  let broken = 0;
  for (const stack of stacks) {
    for (const v of guardrailViolations(readFileSync(`${outdir}/stacks/${stack}/cdk.tf.json`, 'utf8'))) {
      process.stderr.write(`guardrail: ${stack}: ${v.resource}: ${v.rule}\n`);
      broken += 1;
    }
  }
  if (broken > 0) process.exit(1);
  process.stderr.write(`synthesized ${stacks.join(', ')} into ${outdir}/stacks\n`);
} catch (err) {
  if (err instanceof InfraConfigError) {
    process.stderr.write(`pgshift infra: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
