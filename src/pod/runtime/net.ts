/**
 * @module Pod networking: a host bridge `podkit0` on 10.244.0.1/24, one named netns + veth per pod, and an IP
 * lease directory shared by every runner on the machine (leases are reclaimed once their netns is gone).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { SandboxError } from '../../core/errors.js';
import { tool } from './proc.js';

export const BRIDGE = 'podkit0';
export const SUBNET_PREFIX = '10.244.0.';
export const GATEWAY = `${SUBNET_PREFIX}1`;
/** Leases are machine-wide (not per state dir) because the bridge is. */
export const LEASE_DIR = '/run/podkit-ipam';

let bridgeReady: Promise<void> | undefined;

/** Create the bridge once per process (and tolerate a concurrent runner creating it). */
export function ensureBridge(): Promise<void> {
  bridgeReady ??= (async () => {
    if (!existsSync(`/sys/class/net/${BRIDGE}`)) {
      await tool(['ip', 'link', 'add', BRIDGE, 'type', 'bridge']).catch((e: Error) => {
        if (!/exists/i.test(e.message)) throw e;
      });
    }
    await tool(['ip', 'addr', 'replace', `${GATEWAY}/24`, 'dev', BRIDGE]);
    await tool(['ip', 'link', 'set', BRIDGE, 'up']);
  })().catch((e: unknown) => {
    bridgeReady = undefined;
    throw new SandboxError(`cannot set up bridge ${BRIDGE}: ${(e as Error).message}`, { cause: e });
  });
  return bridgeReady;
}

/** Lease an IP for netns `owner`; a lease whose netns no longer exists (and is older than 10 s) is taken over. */
export function leaseIP(owner: string): string {
  mkdirSync(LEASE_DIR, { recursive: true });
  for (let n = 2; n < 255; n++) {
    const f = `${LEASE_DIR}/${SUBNET_PREFIX}${n}`;
    try {
      writeFileSync(f, owner, { flag: 'wx' });
      return `${SUBNET_PREFIX}${n}`;
    } catch {
      try {
        const prev = readFileSync(f, 'utf8').trim();
        if (!existsSync(`/run/netns/${prev}`) && Date.now() - statSync(f).mtimeMs > 10_000) {
          writeFileSync(f, owner);
          return `${SUBNET_PREFIX}${n}`;
        }
      } catch {
        // raced with a release; try the next one
      }
    }
  }
  throw new SandboxError(`no free pod IP in ${SUBNET_PREFIX}0/24`);
}

export function releaseIP(ip: string, owner: string): void {
  const f = `${LEASE_DIR}/${ip}`;
  try {
    if (readFileSync(f, 'utf8').trim() === owner) rmSync(f);
  } catch {
    // already released
  }
}

/**
 * Create netns + veth pair (host side on the bridge), loopback up, pod IP and default route. One spawn from Node
 * (a shell running two `ip -batch`): spawning from Node is the dominant cost of sandbox setup.
 */
export async function createPodNetwork(netns: string, veth: string, ip: string): Promise<void> {
  await ensureBridge();
  const script = [
    'set -e',
    "ip -batch - <<'EOF'",
    `netns add ${netns}`,
    `link add ${veth} up master ${BRIDGE} type veth peer name eth0 netns ${netns}`,
    'EOF',
    `ip -n ${netns} -batch - <<'EOF'`,
    'link set lo up',
    `addr add ${ip}/24 dev eth0`,
    'link set eth0 up',
    `route add default via ${GATEWAY}`,
    'EOF',
  ].join('\n');
  await tool(['sh', '-c', script]);
}

/** Delete the netns (its veth goes with it) and any host-side veth left behind. Missing pieces are fine. */
export async function deletePodNetwork(netns: string, veth: string): Promise<void> {
  if (existsSync(`/run/netns/${netns}`)) await tool(['ip', 'netns', 'del', netns]).catch(() => undefined);
  if (existsSync(`/sys/class/net/${veth}`)) await tool(['ip', 'link', 'del', veth]).catch(() => undefined);
}
