import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { connectionError, usageError } from '../errors.js';
import { registerSecret } from '../postgres/redact.js';
import { awsErrorName, explainAwsError } from './errors.js';

export interface MasterCredentials {
  username: string;
  password: string;
}

/**
 * Read the RDS-managed master password (`manage_master_user_password`): the secret holds
 * `{"username": ..., "password": ...}`. The password is registered for redaction before
 * this function returns, and no error here ever quotes the secret's content.
 */
export async function readMasterCredentials(sm: SecretsManagerClient, secretArn: string, region: string): Promise<MasterCredentials> {
  let text: string | undefined;
  try {
    const out = await sm.send(new GetSecretValueCommand({ SecretId: secretArn }));
    text = out.SecretString;
  } catch (err) {
    const code = awsErrorName(err);
    if (code === 'ResourceNotFoundException') {
      throw usageError(
        `the RDS master secret ${secretArn} does not exist`,
        'the instance may have stopped managing its password; check MasterUserSecret in aws rds describe-db-instances',
      );
    }
    if (code === 'DecryptionFailure') {
      throw connectionError(
        `cannot decrypt the RDS master secret ${secretArn}`,
        "allow kms:Decrypt on the secret's KMS key to the role pgshift runs as",
      );
    }
    if (code === 'AccessDeniedException') {
      throw connectionError(
        `AWS denied secretsmanager:GetSecretValue on ${secretArn}`,
        'allow secretsmanager:GetSecretValue on this secret (and kms:Decrypt if it uses a customer-managed key) to the role pgshift runs as',
      );
    }
    throw explainAwsError(err, { action: 'secretsmanager:GetSecretValue', what: `reading the RDS master secret`, region });
  }
  return parseMasterSecret(text, secretArn);
}

/** Parse the secret's JSON. Errors name the secret and the missing field, never the text (it holds the password). */
export function parseMasterSecret(text: string | undefined, secretArn: string): MasterCredentials {
  if (!text)
    throw usageError(
      `the RDS master secret ${secretArn} has no SecretString`,
      "RDS-managed secrets are JSON strings; check that this is the instance's MasterUserSecret",
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse's own message quotes the input, which is the password: never pass it on.
    throw usageError(
      `the RDS master secret ${secretArn} is not JSON`,
      'RDS-managed secrets hold {"username","password"}; check that this is the instance\'s MasterUserSecret',
    );
  }
  const obj = (parsed ?? {}) as Record<string, unknown>;
  const password = typeof obj.password === 'string' ? obj.password : undefined;
  registerSecret(password);
  const username = typeof obj.username === 'string' ? obj.username : undefined;
  if (!password || !username) {
    const missing = [!username && 'username', !password && 'password'].filter(Boolean).join(' and ');
    throw usageError(
      `the RDS master secret ${secretArn} has no ${missing}`,
      'RDS-managed secrets hold {"username","password"}; check that this is the instance\'s MasterUserSecret',
    );
  }
  return { username, password };
}
