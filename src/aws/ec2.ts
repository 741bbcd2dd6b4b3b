import { CreateImageCommand, DescribeImagesCommand, DescribeInstancesCommand, type EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { usageError } from '../errors.js';
import { awsErrorName, explainAwsError } from './errors.js';
import { pollUntil, type WaitOptions } from './wait.js';

/** The source EC2 host as the subscription on RDS sees it. */
export interface SourceInstance {
  instanceId: string;
  name?: string;
  state: string;
  /** The subscription on RDS connects here: both sit in the same VPC, so never the public IP. */
  privateIp: string;
  vpcId?: string;
  securityGroupIds: string[];
}

export type SourceSelector = { instanceId: string } | { nameTag: string };

/** Find the source instance by id or by its Name tag (exactly one instance that is not terminated). */
export async function findSourceInstance(ec2: EC2Client, selector: SourceSelector, region: string): Promise<SourceInstance> {
  const byId = 'instanceId' in selector;
  const label = byId ? selector.instanceId : `Name=${selector.nameTag}`;
  let instances: Instance[] = [];
  try {
    let token: string | undefined;
    do {
      const out = await ec2.send(
        new DescribeInstancesCommand(
          byId
            ? { InstanceIds: [selector.instanceId], NextToken: token }
            : {
                Filters: [
                  { Name: 'tag:Name', Values: [selector.nameTag] },
                  { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
                ],
                NextToken: token,
              },
        ),
      );
      instances = instances.concat((out.Reservations ?? []).flatMap((r) => r.Instances ?? []));
      token = out.NextToken;
    } while (token);
  } catch (err) {
    if (awsErrorName(err) === 'InvalidInstanceID.NotFound' || awsErrorName(err) === 'InvalidInstanceID.Malformed') {
      throw usageError(`EC2 instance ${label} does not exist in ${region}`, 'check the source instance id and the region');
    }
    throw explainAwsError(err, { action: 'ec2:DescribeInstances', what: `looking up the source instance ${label}`, region });
  }
  if (instances.length === 0) {
    throw usageError(
      `no EC2 instance ${label} in ${region}`,
      byId ? 'check the instance id and the region' : 'check the Name tag, or pass the instance id instead',
    );
  }
  if (instances.length > 1) {
    const ids = instances.map((i) => i.InstanceId).join(', ');
    throw usageError(
      `${instances.length} EC2 instances are tagged ${label} in ${region} (${ids})`,
      'pass the source instance id instead of the Name tag',
    );
  }
  const i = instances[0];
  if (!i.PrivateIpAddress) {
    throw usageError(
      `EC2 instance ${i.InstanceId} has no private IP (state ${i.State?.Name ?? 'unknown'})`,
      'start the instance, then rerun',
    );
  }
  return {
    instanceId: i.InstanceId ?? label,
    name: i.Tags?.find((t) => t.Key === 'Name')?.Value,
    state: i.State?.Name ?? 'unknown',
    privateIp: i.PrivateIpAddress,
    vpcId: i.VpcId,
    securityGroupIds: (i.SecurityGroups ?? []).flatMap((g) => (g.GroupId ? [g.GroupId] : [])),
  };
}

/** An AMI name EC2 accepts (3–128 characters of letters, digits, ( ) [ ] . / - ' @ _ and space). */
export function imageName(instanceId: string, purpose: string, at: Date = new Date()): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 13);
  return `pgshift-${instanceId}-${purpose}-${stamp}`.replace(/[^A-Za-z0-9()[\]./\-'@_ ]/g, '-').slice(0, 128);
}

export interface ImageResult {
  imageId: string;
  name: string;
  state: string;
  /** True when an AMI of this name already existed (a rerun) and was waited for instead. */
  reused: boolean;
  polls: number;
}

/**
 * The plan's checklist: an AMI of the source before cutover. NoReboot, because rebooting the
 * source would stop production; the image is crash-consistent, which PostgreSQL recovers from
 * like from a power cut (its WAL is on the same volume). Waits, bounded, until 'available'.
 */
export async function createSourceImage(
  ec2: EC2Client,
  opts: { instanceId: string; name: string; region: string; description?: string; tags?: Record<string, string>; wait?: WaitOptions },
): Promise<ImageResult> {
  const { instanceId, name, region } = opts;
  let imageId: string | undefined;
  let reused = false;
  const tags = Object.entries({ Name: name, 'pgshift:purpose': 'pre-cutover', ...opts.tags }).map(([Key, Value]) => ({ Key, Value }));
  try {
    const out = await ec2.send(
      new CreateImageCommand({
        InstanceId: instanceId,
        Name: name,
        Description: opts.description ?? `pgshift: source ${instanceId} before cutover`,
        NoReboot: true,
        TagSpecifications: [
          { ResourceType: 'image', Tags: tags },
          { ResourceType: 'snapshot', Tags: tags },
        ],
      }),
    );
    imageId = out.ImageId;
  } catch (err) {
    const code = awsErrorName(err);
    if (code === 'InvalidAMIName.Duplicate') {
      reused = true;
      imageId = await findImageByName(ec2, name, region);
    } else if (code === 'InvalidInstanceID.NotFound' || code === 'InvalidInstanceID.Malformed') {
      throw usageError(`EC2 instance ${instanceId} does not exist in ${region}`, 'check the source instance id and the region');
    } else {
      throw explainAwsError(err, {
        action: 'ec2:CreateImage',
        alsoNeeds: ['ec2:CreateTags'],
        what: `creating an AMI of ${instanceId}`,
        region,
      });
    }
  }
  if (!imageId)
    throw usageError(
      `EC2 returned no image id for the AMI ${name}`,
      `look for it: aws ec2 describe-images --owners self --filters Name=name,Values=${name} --region ${region}`,
    );
  const id = imageId;
  const { state, polls } = await pollUntil(
    async () => {
      try {
        const out = await ec2.send(new DescribeImagesCommand({ ImageIds: [id] }));
        return out.Images?.[0]?.State ?? 'missing';
      } catch (err) {
        // Right after CreateImage, DescribeImages may not know the id yet (eventual consistency).
        if (awsErrorName(err) === 'InvalidAMIID.NotFound') return 'missing';
        throw explainAwsError(err, { action: 'ec2:DescribeImages', what: `waiting for AMI ${id}`, region });
      }
    },
    {
      ready: ['available'],
      failed: ['failed', 'error', 'invalid', 'deregistered'],
      what: `AMI ${id} (${name})`,
      onTimeout: `wait with \`aws ec2 wait image-available --image-ids ${id} --region ${region}\`, then rerun: the same AMI name is reused`,
      onFailed: `see \`aws ec2 describe-images --image-ids ${id} --region ${region} --query 'Images[0].StateReason'\` and create a new AMI`,
    },
    opts.wait,
  );
  return { imageId: id, name, state, reused, polls };
}

async function findImageByName(ec2: EC2Client, name: string, region: string): Promise<string | undefined> {
  try {
    const out = await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: [name] }] }));
    return out.Images?.[0]?.ImageId;
  } catch (err) {
    throw explainAwsError(err, { action: 'ec2:DescribeImages', what: `looking up the AMI named ${name}`, region });
  }
}
