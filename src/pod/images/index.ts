/** @module Images: pull from registries, load/save archives (skopeo), the content-addressed store, unpacked layers. */
export type { ImageProvider, ImageRunConfig, UnpackedImage } from './types.js';
export { ImageService, imageServiceFor, type ImageServiceOptions } from './provider.js';
export type { ImageRecord } from './store.js';
export { defaultPullPolicy, formatRef, parseRef, type ImageRef, type PullPolicy } from './reference.js';
