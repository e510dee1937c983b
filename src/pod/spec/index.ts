/** @module Pod manifests, pure: parse multi-document YAML, validate (Kubernetes rules + what podkit honours locally), build env. */
export { parseManifests, validateManifest, loadManifests, formatIssue, randomSuffix, RUNNABLE_KINDS, type LoadedManifests } from './parse.js';
export { validatePodSpec, isPodkitImage, FIELD_PATHS, type ValidateOptions } from './validate.js';
export { serviceFrom, hostsLines, serviceBackend, serviceEnv, targetPortOn } from './services.js';
export { expand, expandArgv, resolveEnv, fieldValue, type PodContext } from './env.js';
export type * from './types.js';
export { jobPlan, replacementPod } from './job.js';
export { quantity, resourceFieldValue, type NodeCapacity } from './resources.js';
