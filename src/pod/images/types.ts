/** @module The seam between the image store (pull, load, unpack) and the container runtime that runs images. */

/** The parts of an OCI image config (`config` of application/vnd.oci.image.config.v1+json) a container start uses. */
export interface ImageRunConfig {
  /** ENTRYPOINT; replaced by the container's `command`. */
  Entrypoint?: string[];
  /** CMD; replaced by the container's `args` (and dropped when only `command` is given). */
  Cmd?: string[];
  /** `NAME=value` entries, applied before the container's `env`. */
  Env?: string[];
  /** Working directory; the container's `workingDir` wins. */
  WorkingDir?: string;
  /** `user`, `uid`, `user:group` or `uid:gid`; `securityContext.runAsUser/runAsGroup` win. */
  User?: string;
  /** Ports and volumes are informational here (Kubernetes ignores them too). */
  ExposedPorts?: Record<string, unknown>;
  Volumes?: Record<string, unknown>;
  Labels?: Record<string, string>;
}

/** An image ready to run: its layers unpacked in the store, lowest first, shared read-only by every container. */
export interface UnpackedImage {
  /** The reference as the manifest named it, normalized (`docker.io/library/nginx:1.27`). */
  ref: string;
  /** Image ID: the digest of its config blob (`sha256:…`). */
  id: string;
  /** Manifest digest (`sha256:…`), what `@sha256:` pins. */
  digest: string;
  /** Absolute paths of the unpacked layer directories, lowest (base) first: overlayfs lowerdirs in reverse. */
  layers: string[];
  config: ImageRunConfig;
}

/** What the pod runtime asks of the image store. */
export interface ImageProvider {
  /**
   * The image for `ref`, pulled as `policy` says (Kubernetes' imagePullPolicy: Always, IfNotPresent, Never), with
   * registry credentials from `pullSecrets` (dockerconfigjson contents) and the user's docker config.
   * Rejects with an error whose `reason` is `ErrImagePull` or `ErrImageNeverPull`.
   */
  ensure(ref: string, policy: 'Always' | 'IfNotPresent' | 'Never', pullSecrets?: string[]): Promise<UnpackedImage>;
  /** Marks the image in use by a pod (for `podkit images` last-used, and so `rmi`/`prune` keep it). */
  touch?(id: string, user: string): Promise<void>;
}
