/** @module A container run from its image: Kubernetes' rules applied to the container, its pod and its image give argv, env, cwd and the OCI launch. */
import { SandboxError } from '../../../core/errors.js';
import type { UnpackedImage } from '../../images/types.js';
import { expandArgv, isPodkitImage } from '../../spec/index.js';
import type { Container, PodSpec } from '../../spec/types.js';
import type { OciLaunch } from '../sandbox.js';
import { readLayerFile } from './layers.js';
import { capabilitySet, limitsOf, mergeEnv, nonRootRefusal, processArgs, resolveUser, type SecurityContext } from './process.js';

/** The annotation that runs one container as a host process (`host-process.podkit.io/<container>: "true"`). */
export const HOST_PROCESS_ANNOTATION = 'host-process.podkit.io/';

export function hostProcessOptIn(container: string, annotations: Record<string, string> | undefined): boolean {
  return annotations?.[HOST_PROCESS_ANNOTATION + container] === 'true';
}

/** Whether a container runs from its image: it names one, is not opted out, and is not podkit's own (the local CLI). */
export function runsFromImage(c: Container, annotations: Record<string, string> | undefined): boolean {
  return !!c.image && !hostProcessOptIn(c.name, annotations) && !isPodkitImage(c.image);
}

/** Whether any container of a pod runs from its image (only then does the pod need the OCI runtime's sandbox). */
export function podRunsImages(spec: PodSpec, annotations: Record<string, string> | undefined): boolean {
  return [...(spec.initContainers ?? []), ...spec.containers].some((c) => runsFromImage(c, annotations));
}

/** The default PATH containerd gives a container whose image sets none. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ImageLaunch {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  oci: OciLaunch;
}

/**
 * `env` is the container's resolved env (its `env`/`envFrom`, plus HOSTNAME); the image's Env goes under it.
 * Throws SandboxError (CreateContainerConfigError) for runAsNonRoot refusals and unknown users.
 */
export function imageLaunch(c: Container, pod: PodSpec, img: UnpackedImage, env: Record<string, string>): ImageLaunch {
  const sc: SecurityContext = { ...pod.securityContext, ...c.securityContext };
  let user;
  try {
    user = resolveUser(img.config.User, sc, readLayerFile(img.layers, 'etc/passwd'), readLayerFile(img.layers, 'etc/group'));
  } catch (e) {
    throw new SandboxError(`container "${c.name}": ${(e as Error).message}`);
  }
  const refusal = nonRootRefusal(sc, user);
  if (refusal) throw new SandboxError(`container "${c.name}": ${refusal}`);
  const full = mergeEnv(img.config.Env, env);
  full.PATH ??= DEFAULT_PATH;
  full.HOME ??= user.home;
  const argv = processArgs(c.command && expandArgv(c.command, env), c.args && expandArgv(c.args, env), img.config);
  if (argv.length === 0) throw new SandboxError(`container "${c.name}": no command specified (the image ${img.ref} has no ENTRYPOINT or CMD)`);
  let limits;
  try {
    limits = limitsOf(c.resources);
  } catch (e) {
    throw new SandboxError(`container "${c.name}": resources.limits: ${(e as Error).message}`);
  }
  return {
    argv,
    env: full,
    cwd: c.workingDir ?? (img.config.WorkingDir || '/'),
    oci: {
      layers: img.layers,
      user,
      capabilities: capabilitySet(sc),
      privileged: sc.privileged === true,
      readOnlyRoot: sc.readOnlyRootFilesystem === true,
      noNewPrivileges: sc.allowPrivilegeEscalation === false,
      limits,
    },
  };
}
