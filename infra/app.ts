// Builds every stack from one configuration. main.ts synthesizes it to disk; the tests build it in memory.
import type { App } from 'cdktf';
import type { InfraConfig } from './config.js';
import { SingleVpcRdsStack } from './stacks/single-vpc-rds.js';
import { BootstrapStack } from './stacks/bootstrap.js';
import { ProductionStack } from './stacks/production.js';
import { DmsStack } from './stacks/dms.js';

export interface InfraApp {
  app: App;
  experiment: SingleVpcRdsStack;
  bootstrap: BootstrapStack;
  production?: ProductionStack;
  /** Experiment 03 (AWS DMS): 03-dms, and production-dms when production is configured. */
  dms?: DmsStack;
  productionDms?: DmsStack;
}

export function buildApp(config: InfraConfig, app: App): InfraApp {
  return {
    app,
    experiment: new SingleVpcRdsStack(app, config),
    bootstrap: new BootstrapStack(app, config),
    production: config.production === undefined ? undefined : new ProductionStack(app, config, config.production),
    dms: config.dms === undefined ? undefined : new DmsStack(app, config, config.dms, 'experiment'),
    productionDms:
      config.dms === undefined || config.production === undefined ? undefined : new DmsStack(app, config, config.dms, 'production'),
  };
}
