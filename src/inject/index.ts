/** @module podkit inject, pure: manifests in, manifests out (CLI and webhook share this), plus the admission review logic. */
import { assertValid } from './validate/index.js';
import { transformText, type Direction } from './document.js';
import type { SidecarMode } from './plan.js';
import { defaultImage, podkitVersion } from './version.js';

export { transformText, patchFor, applyToDocument, TEMPLATE_PATHS, type Direction } from './document.js';
export { injectTemplate, uninjectTemplate, readStatus, type InjectOptions, type InjectStatus } from './transform.js';
export { diff, applyPatch, type PatchOp, type Json } from './jsonpatch.js';
export { components, STATUS_ANNOTATION } from './components.js';
export { defaultImage, podkitVersion } from './version.js';

export interface InjectTextOptions {
  /** Names the input in errors (`in.yaml`, `<stdin>`). */
  source?: string;
  direction?: Direction;
  /** Default: podkit's own image at this version. */
  image?: string;
  /** Default native. */
  sidecarMode?: SidecarMode;
  /** Recorded in the status annotation; default podkit's version (tests pin it so goldens survive a release). */
  version?: string;
  /** Validate every resulting manifest (default true). */
  validate?: boolean;
  /** Each warning line (a field a cluster accepts only behind a feature gate). */
  warn?(line: string): void;
}

/** Inject (or un-inject) a multi-document YAML text; throws ConfigError (exit 2) naming the annotation or field. */
export function injectText(text: string, o: InjectTextOptions = {}): string {
  const source = o.source ?? '<stdin>';
  const r = transformText(text, source, o.direction ?? 'inject', { image: o.image ?? defaultImage(), sidecarMode: o.sidecarMode ?? 'native', version: o.version ?? podkitVersion() });
  if (o.validate ?? true) for (const w of assertValid(r.objects, source)) o.warn?.(`warning: ${w.source}: ${w.path ? `${w.path}: ` : ''}${w.message}`);
  return r.text;
}
