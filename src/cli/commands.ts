/** @module The subcommands podkit has. A component adds its line here when it works, never before. */

export interface CommandModule {
  /** Run the subcommand with its own argv; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<CommandModule>;
}

export const commands: CommandEntry[] = [
  { name: 'git-sync', summary: 'sync a git repo into a directory and publish it atomically (kubernetes/git-sync v4 drop-in)', load: () => import('../git-sync/cli.js') },
  { name: 'redis-ambassador', summary: 'RESP proxy on localhost: writes to the Redis master, reads to replicas', load: () => import('../redis-ambassador/cli.js') },
  { name: 'up', summary: 'run Kubernetes Pod YAML locally, one set of namespaces per pod (-d to detach)', load: () => import('../pod/cli/up.js') },
  { name: 'ps', summary: 'list pods started by podkit up', load: () => import('../pod/cli/ps.js') },
  { name: 'logs', summary: "print (-f: follow) a pod's container logs", load: () => import('../pod/cli/logs.js') },
  { name: 'exec', summary: 'run a command in a running container of a pod (podkit exec POD [-c C] -- CMD)', load: () => import('../pod/cli/exec.js') },
  { name: 'down', summary: 'stop pods started by podkit up and clean up (--all: every pod)', load: () => import('../pod/cli/down.js') },
  { name: 'pull', summary: 'pull images from their registries into the store', load: async () => ({ run: (await import('../pod/cli/images.js')).runPull }) },
  { name: 'images', summary: 'list the images in the store', load: async () => ({ run: (await import('../pod/cli/images.js')).runImages }) },
  { name: 'rmi', summary: 'remove images from the store', load: async () => ({ run: (await import('../pod/cli/images.js')).runRmi }) },
  { name: 'image', summary: 'image prune: remove every image no pod uses', load: async () => ({ run: (await import('../pod/cli/images.js')).runImage }) },
  { name: 'load', summary: 'import images from a docker save tar or an OCI layout (offline)', load: async () => ({ run: (await import('../pod/cli/images.js')).runLoad }) },
  { name: 'save', summary: 'write an image to a docker save or OCI layout tar', load: async () => ({ run: (await import('../pod/cli/images.js')).runSave }) },
  { name: 'inject', summary: "add podkit's containers to Pod/workload YAML from podkit.io/* annotations (like istioctl kube-inject)", load: () => import('../inject/cli.js') },
  { name: 'metrics-adapter', summary: 'StatsD, JMX and app stats → one normalized /metrics (Prometheus, OpenMetrics) and OTLP', load: () => import('../metrics-adapter/cli.js') },
  { name: 'webhook', summary: 'Kubernetes mutating admission webhook that injects podkit containers (AdmissionReview v1, JSONPatch)', load: () => import('../inject/webhook-cli.js') },
];
