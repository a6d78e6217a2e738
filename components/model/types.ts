import { INIT_LEVELS } from '../../schemas/index.js';

/**
 * Domain types shared by every module (DESIGN.md §2, §4). The JSON Schemas in `schemas/` are the
 * normative description of the file formats; these types mirror them after normalisation
 * (every optional list present, sorted where order carries no meaning).
 */

/** `<platform>-<arch>`, e.g. `posix-x86_64`, `hw-x86_64`, `hw-riscv64`. */
export type Target = string;

/** A capability string: `hypercall:17`, `bus:pci`, `pci-backend`. */
export type Capability = string;

/** The symbol evidence recorded per target at pack/publish time (used by audit, issue 7). */
export interface SymbolEvidence {
  /** Number of global symbols the archive defines. */
  defined: number;
  /** `sha256-<base64>` over the sorted, newline-joined defined global symbol names. */
  digest: string;
  /** Init levels of the `link_set_rump_components` entries the archive carries. */
  linkSet?: string[];
  /** Init levels of the components the archive registers through constructors (`.init_array`). */
  constructors?: string[];
}

/** What a component ships for one target. Paths are relative to the package root. */
export interface TargetEntry {
  /** The static archive, e.g. `lib/posix-x86_64/librumpnet_netinet.a`. */
  archive: string;
  symbols?: SymbolEvidence;
  /** Extra objects linked before everything (platform packages: boot code, crt). */
  objects?: string[];
  /** A linker script (platform packages on freestanding targets). */
  linkerScript?: string;
  /** Extra linker arguments this archive needs (e.g. `-ldl`, `-lpthread` for rumpuser). */
  ldflags?: string[];
  /** ABI-relevant compiler flags the archive was built with (e.g. `-fcommon`). */
  abiFlags?: string[];
  /**
   * A directory of headers applications compile against (`-isystem`), relative to the package
   * root: e.g. `include` of the base component, holding `rump/rump.h`.
   */
  include?: string;
}

export interface Upstream {
  project: string;
  repository: string;
  /** Branch or tag; absent when unknown (imported without --upstream-ref). */
  ref?: string;
  commit?: string;
  path: string;
  /** Upstream path → git blob sha1 (hex). */
  files?: Record<string, string>;
}

/** `component` for drivers and factions; `platform` for a platform package (orchestration layer). */
export type ComponentKind = 'component' | 'platform';

/** The `rump` object of a component's package.json (DESIGN.md §4.1). */
export interface RumpSection {
  schemaVersion: 1;
  kind: ComponentKind;
  /** NetBSD library name, e.g. `librumpnet_netinet`. */
  lib: string;
  aliases: string[];
  faction: string;
  /** Init levels of its `struct rump_component`s (names from netbsd initLevelRunOrder). */
  initLevels: string[];
  requires: Capability[];
  /** Known providers of the required capabilities: capability → component names (sorted); absent when none. */
  providers?: Record<Capability, string[]>;
  provides: Capability[];
  /** Component names this one can never be linked with. */
  conflicts: string[];
  /** Any-of requirements: at least one component of each group must be in the closure (groups and names sorted); absent when none. */
  anyOf?: string[][];
  /** Edges recorded but not pulled in: name → range. */
  optionalDependencies: Record<string, string>;
  targets: Record<Target, TargetEntry>;
  upstream?: Upstream;
}

/** A component's `package/package.json`. */
export interface ComponentManifest {
  name: string;
  version: string;
  license: string;
  description: string;
  /** Hard dependencies: name → semver range. */
  dependencies: Record<string, string>;
  keywords?: string[];
  rump: RumpSection;
}

/** One network interface the glue configures at boot (DESIGN.md §4.2). */
export interface NetConfig {
  if: string;
  type: 'inet' | 'inet6';
  method: 'dhcp' | 'static';
  addr?: string;
  mask?: string;
  gw?: string;
  /**
   * The interface's link, set before it is addressed and brought up: for shmif the bus file the
   * rump kernels of one segment share (a path, relative to the image's working directory).
   */
  linkstr?: string;
}

export interface BlockConfig {
  /** Host file or device. */
  source: string;
  /** Where it appears in the rump kernel, e.g. `/dev/ld0a` or a mount point. */
  path: string;
  fstype?: string;
  mountpoint?: string;
}

/** `rumpkg.json` (DESIGN.md §4.2). */
export interface ProjectManifest {
  schemaVersion: 1;
  name: string;
  targets: Target[];
  /** Component name → semver range, for every target. */
  components: Record<string, string>;
  /** Target → component name → semver range, for that target only; absent when empty. */
  targetComponents?: Record<Target, Record<string, string>>;
  /** Scope (`@rump`) → registry URL (`file:…`, `http://…`). */
  registries: Record<string, string>;
  image?: {
    entry?: string[];
    sources?: string[];
    net?: NetConfig[];
    block?: BlockConfig[];
    cflags?: string[];
  };
}

/** Why another member of an any-of group is not the one that satisfies it. */
export type AnyOfOther =
  /** It would do as well; the chosen member was preferred (see `because`). */
  | { reason: 'available' }
  /** It is in the closure too. */
  | { reason: 'in-closure' }
  /** No version of it is published. */
  | { reason: 'missing' }
  /** No version of it ships the target. */
  | { reason: 'target' }
  /** Its versions for the target are all yanked or prereleases. */
  | { reason: 'unavailable' }
  /** It conflicts with `with`, a member of the closure (either side declares the conflict). */
  | { reason: 'conflict'; with: string }
  /** It was tried first and could not be used in this closure. */
  | { reason: 'unusable' };

/**
 * How an any-of group is satisfied in one closure: the chosen member and why — `requested` by
 * rumpkg.json, `needed` by another component anyway, the `only` usable member, the `first` by
 * name of several that would do, or `locked` (rumpkg.lock had chosen it).
 */
export interface LockedAnyOf {
  chosen: string;
  because: 'requested' | 'needed' | 'only' | 'first' | 'locked';
  /** Every other member of the group → why it is not the choice. */
  others: Record<string, AnyOfOther>;
}

/** One locked component of one target's closure (DESIGN.md §4.3). */
export interface LockedComponent {
  version: string;
  /** The scope key whose registry serves it (never a host name). */
  registry: string;
  /** Registry-relative tarball path, e.g. `@rump/tcpip/-/tcpip-10.0.0.tgz`. */
  tarball: string;
  integrity: string;
  license: string;
  lib: string;
  kind: ComponentKind;
  initLevels: string[];
  /** Hard dependencies as declared (name → range). */
  dependencies: Record<string, string>;
  /** Capability requirements and which locked component satisfies each. */
  requires: Record<Capability, string>;
  /** Any-of requirements: group key (members sorted, joined by `|`) → how it is satisfied. Absent when it has none. */
  anyOf?: Record<string, LockedAnyOf>;
  provides: Capability[];
  optionalDependencies: Record<string, string>;
  /** Who pulled it in: component names, or `<project>` for a direct request. */
  requiredBy: string[];
}

export interface InitStep {
  level: string;
  component: string;
  lib: string;
}

export interface LockedTarget {
  platform: string | null;
  components: Record<string, LockedComponent>;
  /** Link order: dependents before dependencies; the platform package last. */
  linkOrder: string[];
  /** Init order: by the real run order of rump init levels, then link order. */
  initOrder: InitStep[];
}

/** `rumpkg.lock`. */
export interface Lockfile {
  lockfileVersion: 1;
  revision: number;
  /** The requests for every target the closures answer; `install --frozen` compares them with rumpkg.json. */
  requested: Record<string, string>;
  /** The requests for one target only (rumpkg.json `targetComponents`); absent when empty. */
  targetRequested?: Record<Target, Record<string, string>>;
  targets: Record<Target, LockedTarget>;
}

/** The JSON embedded in `.rumpkg.manifest` (DESIGN.md §4.4). */
export interface ImageManifest {
  imageManifestVersion: 1;
  target: Target;
  tool: { name: 'rumpkg'; version: string };
  project: string;
  components: Array<{
    name: string;
    version: string;
    integrity: string;
    license: string;
    lib: string;
    kind: ComponentKind;
    upstream?: Upstream;
    symbols?: SymbolEvidence;
  }>;
  linkOrder: string[];
  initOrder: InitStep[];
  config: { net: NetConfig[]; block: BlockConfig[]; entry: string[] };
}

/** The real run order of rump init levels (../shared/netbsd/components.json initLevelRunOrder). */
export const INIT_LEVEL_RUN_ORDER = INIT_LEVELS;

/** The rumpuser hypercall ABI version the corpus and platform packages implement. */
export const HYPERCALL_ABI_VERSION = 17;

/** The default scope bare names map to. */
export const DEFAULT_SCOPE = '@rump';
