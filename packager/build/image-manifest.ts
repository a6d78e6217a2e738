/**
 * The image manifest (DESIGN.md §4.4): JSON embedded in the ELF section `.rumpkg.manifest` of every
 * image. `planImageManifest` builds it from the lockfile closure and the components' own manifests,
 * `renderImageManifest` serialises it with a fixed key order (reproducible bytes); reading it back
 * from an image is components/binary's `readImageManifest` (the one reader of the section).
 *
 * Embedding: the build's last step is `objcopy --add-section .rumpkg.manifest=rumpkg-manifest.json
 * --set-section-flags .rumpkg.manifest=noload,readonly` — a non-allocated PROGBITS section, so it
 * occupies no memory at run time and cannot move code; audit reads it back from the section headers.
 */
import {
  toolVersion,
  type BlockConfig,
  type ComponentManifest,
  type ImageManifest,
  type LockedTarget,
  type NetConfig,
  type Target,
} from '../../components/index.js';

interface PlanImageManifestOptions {
  target: Target;
  project: string;
  lockedTarget: LockedTarget;
  /** Component name → its package.json (for upstream provenance and symbol evidence); optional per component. */
  componentManifests?: Record<string, ComponentManifest | undefined>;
  config: { net: NetConfig[]; block: BlockConfig[]; entry: string[] };
  /** Defaults to rumpkg's own version. */
  toolVersion?: string;
}

/** Builds the manifest object in its canonical key order. Pure (except the default tool version). */
export function planImageManifest(options: PlanImageManifestOptions): ImageManifest {
  const { lockedTarget: lt, target } = options;
  const names = Object.keys(lt.components).sort();
  return {
    imageManifestVersion: 1,
    target,
    tool: { name: 'rumpkg', version: options.toolVersion ?? toolVersion() },
    project: options.project,
    components: names.map((name) => {
      const c = lt.components[name]!;
      const m = options.componentManifests?.[name];
      const symbols = m?.rump.targets[target]?.symbols;
      return {
        name,
        version: c.version,
        integrity: c.integrity,
        license: c.license,
        lib: c.lib,
        kind: c.kind,
        ...(m?.rump.upstream === undefined ? {} : { upstream: m.rump.upstream }),
        ...(symbols === undefined ? {} : { symbols }),
      };
    }),
    linkOrder: [...lt.linkOrder],
    initOrder: lt.initOrder.map((s) => ({ level: s.level, component: s.component, lib: s.lib })),
    config: {
      net: options.config.net.map((n) => ({ ...n })),
      block: options.config.block.map((b) => ({ ...b })),
      entry: [...options.config.entry],
    },
  };
}

/** JSON text of a manifest, 2-space indented, trailing newline; key order as built. */
export function renderImageManifest(manifest: ImageManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
