/**
 * The image manifest (DESIGN.md §4.4): JSON embedded in the ELF section `.rumpkg.manifest` of every
 * image. `planImageManifest` builds it from the lockfile closure and the components' own manifests,
 * `renderImageManifest` serialises it with a fixed key order (reproducible bytes); reading it back
 * from an image is components/binary's `readImageManifest` (the one reader of the section).
 *
 * Embedding: a non-allocated PROGBITS section, so it occupies no memory at run time and cannot
 * move code; audit reads it back from the section headers. On hosted x86_64, i386 and aarch64 the
 * link takes it as a small object (manifest-object.ts); elsewhere the build's last step is
 * `objcopy --add-section .rumpkg.manifest=rumpkg-manifest.json --set-section-flags
 * .rumpkg.manifest=noload,readonly` (link-plan.ts), which makes the same section.
 */
import {
  RumpkgError,
  toolVersion,
  type BlockConfig,
  type ComponentManifest,
  type ImageManifest,
  type LockedTarget,
  type NetConfig,
  type PortForward,
  type Target,
} from '../../components/index.js';

interface PlanImageManifestOptions {
  target: Target;
  project: string;
  lockedTarget: LockedTarget;
  /** Component name → its package.json (for upstream provenance and symbol evidence); optional per component. */
  componentManifests?: Record<string, ComponentManifest | undefined>;
  config: { net: NetConfig[]; block: BlockConfig[]; entry: string[]; forward?: PortForward[] };
  /** How the image boots, for platforms of a convention other than rumpkg's glue. */
  boot?: ImageManifest['boot'];
  /** Defaults to rumpkg's own version. */
  toolVersion?: string;
}

/**
 * rumpkg.json `image.forward`, checked (build reads rumpkg.json as written): each entry a
 * `tcp`/`udp` pair of ports 1..65535, each host port once. Returns the normalised list.
 */
export function checkPortForwards(forward: readonly PortForward[]): PortForward[] {
  if (!Array.isArray(forward)) throw new RumpkgError('E_MANIFEST', 'rumpkg.json image.forward must be a list', { context: { field: 'image.forward' } });
  const seen = new Set<string>();
  return forward.map((f, i) => {
    const field = `image.forward[${i}]`;
    const port = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
    if (f === null || typeof f !== 'object' || (f.proto !== 'tcp' && f.proto !== 'udp') || !port(f.host) || !port(f.guest)) {
      throw new RumpkgError('E_MANIFEST', `rumpkg.json ${field}: ${JSON.stringify(f)} is not {"proto": "tcp"|"udp", "host": 1..65535, "guest": 1..65535}`, {
        context: { field },
        hint: 'e.g. {"proto": "tcp", "host": 8080, "guest": 80}',
      });
    }
    const key = `${f.proto}:${f.host}`;
    if (seen.has(key)) throw new RumpkgError('E_MANIFEST', `rumpkg.json ${field}: host ${f.proto} port ${f.host} is forwarded twice`, { context: { field } });
    seen.add(key);
    return { proto: f.proto, host: f.host, guest: f.guest };
  });
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
      ...(options.config.forward === undefined || options.config.forward.length === 0 ? {} : { forward: options.config.forward.map((f) => ({ proto: f.proto, host: f.host, guest: f.guest })) }),
    },
    ...(options.boot === undefined ? {} : { boot: { convention: options.boot.convention, platform: options.boot.platform, programs: [...options.boot.programs] } }),
  };
}

/** JSON text of a manifest, 2-space indented, trailing newline; key order as built. */
export function renderImageManifest(manifest: ImageManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
