/**
 * Each build failure gives its typed error naming the component or file, and the previous image
 * (and its map and stamp) stays byte-identical.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isRumpkgError, parseAr, type LockedComponent, type Lockfile, type RumpkgError } from '../../components/index.js';
import { buildProject, componentDirsFromRoot, type BuildProjectOptions, type BuildResult } from '../../packager/index.js';
import { corpusRoot, HELLO_C, runImage, sha256File, tempDir, VERSION, writeProject } from './helpers.js';

let root: string;
beforeAll(async () => {
  root = await corpusRoot();
});

interface Fixture {
  dir: string;
  /** A private copy of the corpus version directory the project builds from. */
  store: string;
  image: string;
  snapshot(): Record<string, string>;
  build(extra?: Partial<BuildProjectOptions>): Promise<BuildResult[]>;
}

/** A project built once successfully, with its own copy of the components it uses. */
async function fixture(options: Parameters<typeof writeProject>[2] = {}): Promise<Fixture> {
  const dir = tempDir();
  const { lockfile } = writeProject(dir, root, options);
  const store = tempDir('rumpkg-packager-store-');
  for (const name of Object.keys(lockfile.targets['posix-x86_64']!.components)) {
    const bare = name.replace(/^@[^/]+\//, '');
    cpSync(join(root, VERSION, bare), join(store, VERSION, bare), { recursive: true });
  }
  const build = (extra: Partial<BuildProjectOptions> = {}) => buildProject(dir, { resolveComponentDir: componentDirsFromRoot(store), ...extra });
  const [r] = await build();
  const image = r!.image;
  const snapshot = () => Object.fromEntries(['', '.map', '.stamp'].map((s) => [s, sha256File(image + s)]));
  return { dir, store, image, snapshot, build };
}

/** Adds an application object patched to say aarch64 as a second entry; its path, and the undo. */
function addForeignObject(f: Fixture): { obj: string; undo: () => void } {
  const obj = join(f.dir, 'extra.o');
  writeFileSync(join(f.dir, 'extra.c'), 'int extra(void) { return 1; }\n');
  execFileSync('cc', ['-c', '-o', obj, join(f.dir, 'extra.c')]);
  const bytes = readFileSync(obj);
  bytes.writeUInt16LE(183, 18); // e_machine = EM_AARCH64
  writeFileSync(obj, bytes);
  const file = join(f.dir, 'rumpkg.json');
  const before = readFileSync(file, 'utf8');
  const project = JSON.parse(before);
  project.image.entry = ['app.c', 'extra.o'];
  writeFileSync(file, JSON.stringify(project));
  return { obj, undo: () => writeFileSync(file, before) };
}

async function failure(f: Fixture, extra: Partial<BuildProjectOptions> = {}): Promise<RumpkgError> {
  const before = f.snapshot();
  let err: unknown;
  try {
    await f.build({ force: true, ...extra });
  } catch (e) {
    err = e;
  }
  expect(isRumpkgError(err), `expected a RumpkgError, got ${String(err)}`).toBe(true);
  expect(f.snapshot()).toEqual(before);
  expect(runImage(f.image).status).toBe(0);
  return err as RumpkgError;
}

const archive = (f: Fixture, bare: string, lib: string): string => join(f.store, VERSION, bare, 'lib', 'posix-x86_64', `${lib}.a`);

describe('build failures leave the previous image intact', () => {
  it('a missing archive: E_NOT_FOUND naming the component and path', async () => {
    const f = await fixture();
    const a = archive(f, 'net-net', 'librumpnet_net');
    rmSync(a);
    const e = await failure(f);
    expect(e.code).toBe('E_NOT_FOUND');
    expect(e.context).toMatchObject({ component: '@rump/net-net', path: a });
    expect(e.message).toMatch(/@rump\/net-net/);
  });

  it('a corrupted archive: E_ELF naming the component', async () => {
    const f = await fixture();
    const a = archive(f, 'tcpip', 'librumpnet_netinet');
    truncateSync(a, 300);
    const e = await failure(f);
    expect(e.code).toBe('E_ELF');
    expect(e.message).toMatch(/component @rump\/tcpip/);
    // Garbage in place of an object member, with the ar structure intact.
    const g = await fixture();
    const b = archive(g, 'tcpip', 'librumpnet_netinet');
    const bytes = readFileSync(b);
    const at = bytes.indexOf(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    bytes.fill(0x41, at, at + 64);
    writeFileSync(b, bytes);
    const e2 = await failure(g);
    expect(e2.code).toBe('E_ELF');
    expect(e2.context.component).toBe('@rump/tcpip');
  });

  it('a missing toolchain: E_TOOLCHAIN naming the tool and the Debian package', async () => {
    const f = await fixture();
    const e = await failure(f, { path: '/nonexistent' });
    expect(e.code).toBe('E_TOOLCHAIN');
    expect(e.message).toMatch(/'cc'/);
    expect(e.hint).toMatch(/apt-get install gcc/);
  });

  it('an application object for the wrong architecture: E_ARCH naming the file', async () => {
    const f = await fixture();
    const { obj } = addForeignObject(f);
    const e = await failure(f);
    expect(e.code).toBe('E_ARCH');
    expect(e.message).toContain(obj);
    expect(e.message).toMatch(/aarch64/);
  });

  it('an undefined symbol: E_LINK naming the symbol and the component that references it', async () => {
    const f = await fixture();
    // Drop @rump/net from the locked closure: net-net and tcpip reference its symbols.
    const lock = JSON.parse(readFileSync(join(f.dir, 'rumpkg.lock'), 'utf8')) as Lockfile;
    const lt = lock.targets['posix-x86_64']!;
    delete (lt.components as Record<string, LockedComponent>)['@rump/net'];
    lt.linkOrder = lt.linkOrder.filter((n) => n !== '@rump/net');
    // …consistently (the lockfile reader refuses edges to a component the closure lacks).
    lt.initOrder = lt.initOrder.filter((s) => s.component !== '@rump/net');
    for (const c of Object.values(lt.components)) {
      delete c.dependencies['@rump/net'];
      c.requiredBy = c.requiredBy.filter((n) => n !== '@rump/net');
    }
    writeFileSync(join(f.dir, 'rumpkg.lock'), JSON.stringify(lock));
    const e = await failure(f);
    expect(e.code).toBe('E_LINK');
    expect(e.message).toMatch(/undefined symbol \S+/);
    expect(e.message).toMatch(/referenced by component @rump\/\S+/);
    const undef = e.context.undefined as Array<{ symbol: string; component?: string }>;
    expect(undef.length).toBeGreaterThan(0);
    expect(undef.every((u) => u.component !== undefined && u.component !== '@rump/net')).toBe(true);
  });

  it('image.net without the net-config component: E_LINK blaming the glue, hint names net-config', async () => {
    const f = await fixture({ components: ['@rump/tcpip', '@rump/virtif'], image: { sources: ['app.c'] } });
    const project = JSON.parse(readFileSync(join(f.dir, 'rumpkg.json'), 'utf8'));
    project.image.net = [{ if: 'virt0', type: 'inet', method: 'dhcp' }];
    writeFileSync(join(f.dir, 'rumpkg.json'), JSON.stringify(project));
    const e = await failure(f);
    expect(e.code).toBe('E_LINK');
    expect(e.message).toMatch(/rump_pub_netconfig_\w+.*referenced by the rumpkg glue/);
    expect(e.hint).toMatch(/net-config/);
  });

  it('a compile error in the application: E_BUILD naming the source', async () => {
    const f = await fixture();
    writeFileSync(join(f.dir, 'app.c'), `${HELLO_C}\nthis is not C;\n`);
    const e = await failure(f);
    expect(e.code).toBe('E_BUILD');
    expect(e.message).toContain(resolve(f.dir, 'app.c'));
  });
});

describe('the object cache remembers inputs that passed their checks', () => {
  const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
  const CHECKED = new Set(['archive', 'platform-archive', 'platform-library', 'app-object', 'platform-object']);

  it('one marker per checked input, by its digest, target and role; a failure is never remembered and another digest is checked again', async () => {
    const f = await fixture();
    const objectCache = tempDir('rumpkg-objects-');
    await f.build({ force: true, objectCache });
    const [dry] = await f.build({ dryRun: true });
    const inputs = dry!.plan.files.filter((file) => file.from !== undefined && CHECKED.has(file.role));
    expect(inputs.length).toBeGreaterThan(3);
    const marker = (from: string, role: string): string => `${sha(from)}-posix-x86_64.${role}.v1`;
    const markers = (): string[] => readdirSync(join(objectCache, 'checked')).sort();
    expect(markers()).toEqual([...new Set(inputs.map((file) => marker(file.from!, file.role)))].sort());

    // An application object for another machine: refused on every build, never remembered.
    const { obj, undo } = addForeignObject(f);
    for (let i = 0; i < 2; i++) expect((await failure(f, { objectCache })).code).toBe('E_ARCH');
    expect(markers().some((m) => m.startsWith(sha(obj)))).toBe(false);
    undo();

    // A component's archive whose first member now says aarch64: its digest changed, so it is
    // checked again (the markers of the bytes it replaced do not vouch for it).
    const archive = inputs.find((file) => file.role === 'archive')!;
    const ar = readFileSync(archive.from!);
    const first = parseAr(ar).members[0]!;
    ar.writeUInt16LE(183, first.offset + 18);
    writeFileSync(archive.from!, ar);
    const e = await failure(f, { objectCache });
    expect(e.code).toBe('E_ARCH');
    expect(e.message).toContain(archive.component!);
  });
});

describe('glue behaviour', () => {
  it('passes hostile configured strings to the rump API byte for byte', async () => {
    const weird = 'dir with "quotes" \\ and ??= trigraph */ ü $HOME `x`';
    const dir = tempDir();
    writeProject(dir, root, { components: ['@rump/vfs', '@rump/tcpip'], image: { sources: ['app.c'], block: [{ source: weird, path: '/dev/ld0a' }] } });
    const [r] = await buildProject(dir, { resolveComponentDir: componentDirsFromRoot(root) });
    const out = runImage(r!.image);
    expect(out.status).toBe(0);
    expect(out.stdout).toContain(`config etfs_register /dev/ld0a ${weird} 1\n`);
  });

  it('runs several entry points in order and exits with the first failing status', async () => {
    const dir = tempDir();
    writeProject(dir, root, {
      components: ['@rump/tcpip'],
      image: { entry: ['one.c', 'two.c', 'three.c'] },
      files: {
        'one.c': '#include <stdio.h>\nint main(void) { puts("one"); return 0; }\n',
        'two.c': '#include <stdio.h>\nint main(void) { puts("two"); fflush(stdout); return 3; }\n',
        'three.c': '#include <stdio.h>\nint main(void) { puts("three"); return 0; }\n',
      },
    });
    const [r] = await buildProject(dir, { resolveComponentDir: componentDirsFromRoot(root) });
    const out = runImage(r!.image);
    expect(out.status).toBe(3);
    expect(out.stdout.split('\n').filter((l) => !l.startsWith('init '))).toEqual(['one', 'two', '']);
  });

  it('fails clearly (status 71) when the platform implements another hypercall ABI', async () => {
    const f = await fixture({ components: ['@rump/tcpip'], image: { sources: ['app.c'] } });
    const src = resolve(import.meta.dirname, '../../scripts/corpus/src/rumpuser.c');
    const tmp = tempDir();
    execFileSync('cc', ['-O2', '-DRUMPUSER_VERSION=16', '-c', '-o', join(tmp, 'rumpuser.o'), src]);
    const a = archive(f, 'rumpuser', 'librumpuser');
    rmSync(a);
    execFileSync('ar', ['rcsD', a, join(tmp, 'rumpuser.o')]);
    const [r] = await f.build();
    const out = runImage(r!.image);
    expect(out.status).toBe(71);
    expect(out.stdout).toMatch(/rump_init\(\) failed .*hypercall ABI version 17/);
  });
});
