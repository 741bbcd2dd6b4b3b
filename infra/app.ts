// Builds every stack from one configuration. main.ts synthesizes it to disk; the tests build it in memory.
import type { App } from 'cdktf';
import type { InfraConfig } from './config.js';
import { SingleVpcRdsStack } from './stacks/single-vpc-rds.js';
import { BootstrapStack } from './stacks/bootstrap.js';
import { ProductionStack } from './stacks/production.js';
import { DmsStack } from './stacks/dms.js';
import { CrossAccountPeeringStack, CrossAccountProductionStack } from './stacks/cross-account-peering.js';
import { BootstrapTargetAccountStack } from './stacks/bootstrap-target-account.js';

export interface InfraApp {
  app: App;
  experiment: SingleVpcRdsStack;
  bootstrap: BootstrapStack;
  production?: ProductionStack;
  /** Experiment 03 (AWS DMS): 03-dms, and production-dms when production is configured. */
  dms?: DmsStack;
  productionDms?: DmsStack;
  /** Experiment 02 and its production variant, and account B's bootstrap (only with a `crossAccount` section). */
  crossAccount?: {
    experiment: CrossAccountPeeringStack;
    production?: CrossAccountProductionStack;
    bootstrap: BootstrapTargetAccountStack;
  };
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
    crossAccount: crossAccountStacks(config, app),
  };
}

function crossAccountStacks(config: InfraConfig, app: App): InfraApp['crossAccount'] {
  const x = config.crossAccount;
  if (x === undefined) return undefined;
  return {
    experiment: new CrossAccountPeeringStack(app, config, x),
    production: x.production === undefined ? undefined : new CrossAccountProductionStack(app, config, x, x.production),
    bootstrap: new BootstrapTargetAccountStack(app, config, x),
  };
}
