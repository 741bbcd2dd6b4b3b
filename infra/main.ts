// `npm run synth`: writes the Terraform JSON of every stack to infra/cdktf.out/stacks/<stack>/cdk.tf.json.
// That JSON is the contract: the workflows (and anyone leaving CDKTF) run plain `terraform` on it.
import { App } from 'cdktf';
import { fileURLToPath } from 'node:url';
import { buildApp } from './app.js';
import { InfraConfigError, loadConfig } from './config.js';

const infraDir = fileURLToPath(new URL('.', import.meta.url));

try {
  const config = loadConfig(infraDir, process.env, (line) => process.stderr.write(`${line}\n`));
  const outdir = process.env.PGSHIFT_INFRA_OUTDIR || `${infraDir}cdktf.out`;
  const built = buildApp(config, new App({ outdir, stackTraces: false }));
  built.app.synth();
  const stacks = built.app.node.children.map((c) => c.node.id);
  process.stderr.write(`synthesized ${stacks.join(', ')} into ${outdir}/stacks\n`);
} catch (err) {
  if (err instanceof InfraConfigError) {
    process.stderr.write(`pgshift infra: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
