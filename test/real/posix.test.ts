/**
 * The real NetBSD 7.99.34 posix-x86_64 archives as the test subject, end to end through the
 * shipped bin (issue: real drivers): import → publish → add → build → run → audit.
 * - import: 82 archives → 81 components (librumpclient skipped with its reason), init levels read
 *   from the constructors, the any-of (fs-nfs needs net-net or sockin) and the conflicts
 *   (net-net × sockin, vfs × fifofs) proven by symbols written into the manifests, -fcommon and
 *   -ldl -lpthread recorded, the headers shipped with base, upstream only as given;
 * - real programs (examples/real): UDP over lo0, tmpfs, and two rump kernel processes talking
 *   TCP over a shmif bus configured from rumpkg.json;
 * - audit of those images, with and without the embedded manifest, and with a component removed,
 *   an extra one, and a really changed archive member;
 * - build --force through the object cache: the bytes of a cold build, damaged entries compiled
 *   again, --dry-run still the whole plan;
 * - run: the image `build -o` wrote, a stale one, a missing one;
 * - bad archives: not ar, truncated, the other registration convention, another architecture.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAr, parseElf, relocatedBytes, relocationsFor, type ComponentManifest } from '../../components/index.js';
import { realSet, title } from '../helpers/real.js';
import { REAL_VERSION, UPSTREAM_COMMIT, realWorld, startRumpkg, type RealWorld } from '../helpers/real-world.js';

const posix = realSet('posix');
const T = 'posix-x86_64';

describe.skipIf(!posix.available)(title(posix, 'real posix-x86_64 archives, end to end'), () => {
  let w: RealWorld;
  let ex: string;
  const manifest = (name: string): ComponentManifest => JSON.parse(readFileSync(join(w.components, name, 'package.json'), 'utf8')) as ComponentManifest;

  beforeAll(async () => {
    w = await realWorld(posix);
    ex = w.examples();
    // projects copied next to the examples find the shared header as ../nbsd.h
    copyFileSync(join(ex, 'nbsd.h'), join(w.work, 'nbsd.h'));
    for (const d of ['udp', 'tmpfs', 'tcp-shmif/server', 'tcp-shmif/client']) {
      const r = await w.rumpkg(['install'], { cwd: join(ex, d) });
      expect(r.code, r.stderr).toBe(0);
      const b = await w.rumpkg(['build'], { cwd: join(ex, d) });
      expect(b.code, b.stderr).toBe(0);
    }
  }, 600_000);
  afterAll(() => w?.dispose());

  describe('import', () => {
    it('makes 81 components of the 82 archives; librumpclient is skipped with its reason', async () => {
      expect(readdirSync(w.components).filter((d) => existsSync(join(w.components, d, 'package.json')))).toHaveLength(81);
      const r = await w.rumpkg(['import', 'archives', join(w.build, 'lib'), '--target', T, '--version', REAL_VERSION, '--dry-run', '--json', '--upstream-ref', 'trunk']);
      const doc = JSON.parse(r.stdout) as { components: unknown[]; skipped: Array<{ file: string; reason: string }>; warnings: string[] };
      expect(doc.components).toHaveLength(81);
      expect(doc.skipped.map((s) => [s.file.split('/').pop(), s.reason])).toEqual([['librumpclient.a', 'librumpclient is a host-side library (remote syscalls / hijacking), not a kernel component']]);
      expect(doc.warnings.join('\n')).not.toMatch(/is it empty/);
    });

    it('reads init levels from the constructors, activation shims included', () => {
      expect(manifest('tcpip').rump.initLevels).toEqual(['RUMP_COMPONENT_NET', 'RUMP_COMPONENT_NET_IFCFG']);
      expect(manifest('tcpip').rump.targets[T]?.symbols).toMatchObject({ defined: 0, constructors: ['RUMP_COMPONENT_NET', 'RUMP_COMPONENT_NET_IFCFG'] });
      expect(manifest('tcpip6').rump.initLevels).toEqual(['RUMP_COMPONENT_NET', 'RUMP_COMPONENT_NET_IFCFG']);
      // the archive, not the catalog: librump registers no POSTINIT component
      expect(manifest('base').rump.initLevels).toEqual(['RUMP_COMPONENT_SYSCALL']);
      expect(manifest('fs-tmpfs').rump.initLevels).toEqual([]);
    });

    it('writes the any-of and the conflicts the symbols prove', () => {
      expect(manifest('fs-nfs').rump.anyOf).toEqual([['@rump/net-net', '@rump/sockin']]);
      expect(manifest('fs-nfs').dependencies).not.toHaveProperty('@rump/net-net');
      expect(manifest('net-net').rump.conflicts).toContain('@rump/sockin');
      expect(manifest('sockin').rump.conflicts).toContain('@rump/net-net');
      expect(manifest('vfs').rump.conflicts).toContain('@rump/vfs-fifofs');
      expect(manifest('vfs-fifofs').rump.conflicts).toContain('@rump/vfs');
    });

    it('records -fcommon, the host libraries, the headers and only the provenance it was given', () => {
      expect(manifest('net-net').rump.targets[T]?.abiFlags).toEqual(['-fcommon']);
      expect(manifest('rumpuser').rump.targets[T]?.ldflags).toEqual(['-ldl', '-lpthread']);
      expect(manifest('rumpuser').rump.kind).toBe('platform');
      expect(manifest('base').rump.targets[T]?.include).toBe(`include/${T}`);
      expect(existsSync(join(w.components, 'base', 'include', T, 'rump', 'rump.h'))).toBe(true);
      expect(manifest('tcpip').rump.upstream).toEqual({ project: 'NetBSD', repository: 'NetBSD/src', commit: UPSTREAM_COMMIT, path: 'sys/rump/net/lib/libnetinet' });
      expect(JSON.stringify(manifest('tcpip'))).not.toMatch(/RELEASE/);
    });
  });

  describe('resolving', () => {
    it('add fs-nfs pulls in one of net-net and sockin, and why says which and why', async () => {
      const dir = join(w.work, 'nfs');
      mkdirSync(dir);
      expect((await w.rumpkg(['init', '--name', 'nfs', '--target', T], { cwd: dir })).code).toBe(0);
      const add = await w.rumpkg(['add', 'fs-nfs'], { cwd: dir });
      expect(add.code, add.stderr).toBe(0);
      const lock = JSON.parse(readFileSync(join(dir, 'rumpkg.lock'), 'utf8')) as { targets: Record<string, { components: Record<string, unknown> }> };
      const names = Object.keys(lock.targets[T]!.components);
      expect(names.filter((n) => n === '@rump/net-net' || n === '@rump/sockin')).toHaveLength(1);
      const why = await w.rumpkg(['why', 'net-net'], { cwd: dir });
      expect(why.stdout).toContain('@rump/fs-nfs needs one of @rump/net-net or @rump/sockin; @rump/net-net was chosen');
    });
  });

  describe('real programs', () => {
    it('UDP over the rump kernel lo0', async () => {
      const r = await w.rumpkg(['run'], { cwd: join(ex, 'udp') });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^udp: received "hello over rump lo0" from 127\.0\.0\.1:\d+$/m);
    });

    it('tmpfs: mount, write, read back, unmount', async () => {
      const r = await w.rumpkg(['run'], { cwd: join(ex, 'tmpfs') });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('tmpfs: read back 23 bytes: written into rump tmpfs');
      expect(r.stdout).toContain('tmpfs: unmounted /mnt');
    });

    it('two rump kernel processes talk TCP over a shmif bus configured from rumpkg.json', async () => {
      const [server, client] = await Promise.all([
        startRumpkg(w.env, ['run'], join(ex, 'tcp-shmif/server')),
        startRumpkg(w.env, ['run'], join(ex, 'tcp-shmif/client')),
      ]);
      expect(server.code, server.stderr).toBe(0);
      expect(client.code, client.stderr).toBe(0);
      expect(server.stdout).toContain('server: got "ping" from a client on the bus');
      expect(client.stdout).toContain('client: got "pong" back over TCP on the shmif bus');
      expect(existsSync(join(ex, 'tcp-shmif/shmif.bus'))).toBe(true);
      // the image manifest carries the configuration the glue applied
      const dumped = join(w.work, 'client-manifest.json');
      execFileSync('objcopy', ['--dump-section', `.rumpkg.manifest=${dumped}`, join(ex, 'tcp-shmif/client/build', T, 'shmif-client'), join(w.work, 'client.discard')]);
      expect(JSON.parse(readFileSync(dumped, 'utf8')).config.net).toEqual([{ if: 'shmif0', type: 'inet', method: 'static', addr: '10.93.0.2', mask: '24', linkstr: '../shmif.bus' }]);
    });
  });

  describe('audit', () => {
    const image = (): string => join(ex, 'udp/build', T, 'real-udp');

    it('every component of the working image is confirmed, the shim and the partly linked platform included', async () => {
      const r = await w.rumpkg(['audit', image(), '--json'], { cwd: join(ex, 'udp') });
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout) as { manifest: string; components: Array<{ name: string; evidence: string; content?: { members: Record<string, number> } }> };
      expect(doc.manifest).toBe('embedded');
      expect(Object.fromEntries(doc.components.map((c) => [c.name, c.evidence]))).toEqual({
        '@rump/base': 'confirmed',
        '@rump/net': 'confirmed',
        '@rump/net-net': 'confirmed',
        '@rump/rumpuser': 'confirmed',
        '@rump/tcpip': 'confirmed',
      });
      const user = doc.components.find((c) => c.name === '@rump/rumpuser')!;
      expect(user.content?.members.absent).toBeGreaterThan(0); // members the link did not need
      expect(user.content?.members.modified).toBe(0);
    });

    it('the archive facts cache: used only for the bytes it was computed from; stale, foreign or damaged entries are recomputed and rewritten', async () => {
      const cwd = join(ex, 'udp');
      const first = await w.rumpkg(['audit', image(), '--json'], { cwd });
      expect(first.code, first.stderr).toBe(0);
      const cache = join(w.env.RUMPKG_HOME as string, 'cache', 'prints');
      const entries = readdirSync(cache).filter((f) => f.endsWith('.facts')).sort();
      // one entry per locked archive, named by the sha256 of the archive's bytes (facts.ts: a header line, then the body)
      const store = join(w.env.RUMPKG_HOME as string, 'store');
      const archives = (execFileSync('find', [store, '-name', '*.a'], { encoding: 'utf8' }).trim().split('\n'))
        .map((f) => createHash('sha256').update(readFileSync(f)).digest('hex'));
      expect(entries.length).toBeGreaterThanOrEqual(5); // the UDP closure: base, net, net-net, rumpuser, tcpip
      const header = (e: string): { sha256: string; body: string } => JSON.parse(readFileSync(join(cache, e), 'utf8').split('\n')[0]!) as { sha256: string; body: string };
      for (const e of entries) {
        const sha = e.replace(/-v2\.facts$/, '');
        expect(archives).toContain(sha);
        expect(header(e).sha256).toBe(sha);
      }
      // from the cache: the same report
      const again = await w.rumpkg(['audit', image(), '--json'], { cwd });
      expect(again.stdout).toBe(first.stdout);
      // entries with every symbol hash changed (sealed: the body digest fits) that claim other
      // bytes, another format or another tool, one with a flipped digit, and junk are not used:
      // the poisoned prints would make every component "modified"
      const fresh = new Map(entries.map((e) => [e, readFileSync(join(cache, e))] as const));
      const poison = (e: string, change: (h: Record<string, unknown>) => void): void => {
        const [head, ...rest] = readFileSync(join(cache, e), 'utf8').split('\n');
        const body = rest.join('\n').replace(/"[0-9a-f]{32}"/g, (x) => `"${x[1] === '0' ? '1' : '0'}${x.slice(2)}`);
        const h = { ...(JSON.parse(head!) as Record<string, unknown>), body: createHash('sha256').update(body).digest('hex') };
        change(h);
        writeFileSync(join(cache, e), `${JSON.stringify(h)}\n${body}`);
      };
      poison(entries[0] as string, (h) => { h.sha256 = '1'.repeat(64); });
      poison(entries[1] as string, (h) => { h.format = 1; });
      poison(entries[2] as string, (h) => { h.tool = 'rumpkg@0.0.0-other'; });
      const flipped = readFileSync(join(cache, entries[3] as string), 'utf8').replace(/"([0-9a-f])([0-9a-f]{31})"/, (_, c: string, r: string) => `"${c === '0' ? '1' : '0'}${r}"`);
      writeFileSync(join(cache, entries[3] as string), flipped);
      writeFileSync(join(cache, entries[4] as string), '{"format":');
      const checked = await w.rumpkg(['audit', image(), '--json'], { cwd });
      expect(checked.stdout).toBe(first.stdout);
      for (const e of entries.slice(0, 5)) expect(readFileSync(join(cache, e)).equals(fresh.get(e)!), e).toBe(true);
    });

    it('without the embedded manifest, in the project: confirmed against rumpkg.lock', async () => {
      const stripped = join(w.work, 'udp-stripped');
      execFileSync('objcopy', ['--remove-section', '.rumpkg.manifest', image(), stripped]);
      const r = await w.rumpkg(['audit', stripped, '--json'], { cwd: join(ex, 'udp') });
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout) as { manifest: string; components: Array<{ name: string; evidence: string }>; notes: string[] };
      expect(doc.manifest).toBe('missing');
      expect(doc.components.map((c) => [c.name, c.evidence])).toEqual(['@rump/base', '@rump/net', '@rump/net-net', '@rump/rumpuser', '@rump/tcpip'].map((n) => [n, 'confirmed']));
    });

    it('without a manifest and outside a project: the components are named by fingerprint', async () => {
      const stripped = join(w.work, 'udp-stripped-2');
      execFileSync('objcopy', ['--remove-section', '.rumpkg.manifest', image(), stripped]);
      const r = await w.rumpkg(['audit', stripped, '--components-dir', w.components, '--target', T, '--json'], { cwd: w.work });
      const doc = JSON.parse(r.stdout) as { components: Array<{ name: string; evidence: string }> };
      expect(doc.components.map((c) => [c.name, c.evidence])).toEqual(['@rump/base', '@rump/net', '@rump/net-net', '@rump/rumpuser', '@rump/tcpip'].map((n) => [n, 'present-but-unclaimed']));
    });

    describe('findings', () => {
      let withInet6: string;
      beforeAll(async () => {
        const dir = join(w.work, 'udp6');
        cpSync(join(ex, 'udp'), dir, { recursive: true, filter: (s) => !s.includes('/build') });
        expect((await w.rumpkg(['add', 'tcpip6'], { cwd: dir })).code).toBe(0);
        expect((await w.rumpkg(['build'], { cwd: dir })).code).toBe(0);
        withInet6 = join(dir, 'build', T, 'real-udp');
      }, 300_000);

      /** `img` carrying the manifest of `donor`. */
      const withManifestOf = (img: string, donor: string, name: string): string => {
        const m = join(w.work, `${name}.manifest.json`);
        const out = join(w.work, name);
        execFileSync('objcopy', ['--dump-section', `.rumpkg.manifest=${m}`, donor, join(w.work, `${name}.discard`)]);
        execFileSync('objcopy', ['--remove-section', '.rumpkg.manifest', img, out]);
        execFileSync('objcopy', ['--add-section', `.rumpkg.manifest=${m}`, '--set-section-flags', '.rumpkg.manifest=noload,readonly', out]);
        return out;
      };
      const evidence = async (img: string, cwd: string): Promise<{ code: number; by: Record<string, string>; reasons: Record<string, string[]> }> => {
        const r = await w.rumpkg(['audit', img, '--components-dir', w.components, '--json'], { cwd });
        const doc = JSON.parse(r.stdout) as { components: Array<{ name: string; evidence: string; reasons: string[] }> };
        return { code: r.code, by: Object.fromEntries(doc.components.map((c) => [c.name, c.evidence])), reasons: Object.fromEntries(doc.components.map((c) => [c.name, c.reasons])) };
      };

      it('a claimed component removed from the image: claimed-but-absent, exit 3', async () => {
        const r = await evidence(withManifestOf(image(), withInet6, 'claims-inet6'), w.work);
        expect(r.by['@rump/tcpip6']).toBe('claimed-but-absent');
        expect(r.by['@rump/tcpip']).toBe('confirmed');
        expect(r.code).toBe(3);
      });

      it('an extra component in the image: present-but-unclaimed', async () => {
        const r = await evidence(withManifestOf(withInet6, image(), 'extra-inet6'), w.work);
        expect(r.by['@rump/tcpip6']).toBe('present-but-unclaimed');
        expect(r.by['@rump/tcpip']).toBe('confirmed');
      });

      it('a really changed archive member (one byte of netinet code): modified, naming the member', async () => {
        const altered = join(w.work, 'altered');
        cpSync(w.components, altered, { recursive: true });
        const archive = join(altered, 'tcpip', 'lib', T, 'librumpnet_netinet.a');
        const bytes = readFileSync(archive);
        const member = parseAr(bytes, { file: archive }).members.find((m) => m.name === 'netinet_component.o')!;
        const elf = parseElf(member.data, { file: 'netinet_component.o' });
        const fn = elf.symbols.find((s) => s.name === 'rumpcompinitRUMP_COMPONENT_NET_IFCFG')!;
        const text = elf.sections[fn.section as number]!;
        const masked = new Set<number>();
        for (const r of relocationsFor(elf, text)) {
          const [from, len] = relocatedBytes(elf.machine, r.type, 8);
          for (let k = from; k < from + len; k++) masked.add(r.offset + k);
        }
        let at = Number(fn.value) + 8;
        while (masked.has(at)) at++;
        bytes[member.offset + text.offset + at] = (bytes[member.offset + text.offset + at] as number) ^ 0x01;
        writeFileSync(archive, bytes);
        const dir = join(w.work, 'udp-altered');
        cpSync(join(ex, 'udp'), dir, { recursive: true, filter: (s) => !s.includes('/build') });
        const b = await w.rumpkg(['build', '--components-dir', altered], { cwd: dir });
        expect(b.code, b.stderr).toBe(0);
        // audited in the project: the store holds the published (unaltered) tcpip
        const r = await w.rumpkg(['audit', join(dir, 'build', T, 'real-udp'), '--json'], { cwd: dir });
        const doc = JSON.parse(r.stdout) as { components: Array<{ name: string; evidence: string; reasons: string[] }> };
        const tcpip = doc.components.find((c) => c.name === '@rump/tcpip')!;
        expect(tcpip.evidence).toBe('modified');
        expect(tcpip.reasons.join('\n')).toMatch(/netinet_component\.o: 1 symbol\(s\) have other bytes than in the archive \(rumpcompinitRUMP_COMPONENT_NET_IFCFG\)/);
        expect(doc.components.filter((c) => c.name !== '@rump/tcpip').every((c) => c.evidence === 'confirmed')).toBe(true);
        expect(r.code).toBe(3);
      });
    });
  });

  describe('build --force and the object cache', () => {
    it('re-links from cached objects into the bytes of a cold build; a damaged entry is compiled again', async () => {
      const dir = join(w.work, 'udp-cache');
      cpSync(join(ex, 'udp'), dir, { recursive: true, filter: (s) => !s.includes('/build') });
      const objects = join(w.work, 'home', 'objects');
      rmSync(objects, { recursive: true, force: true });
      const image = join(dir, 'build', T, 'real-udp');
      const digest = (): string => createHash('sha256').update(readFileSync(image)).digest('hex');
      const hits = (stderr: string): string[] => stderr.split('\n').filter((l) => l.includes(' (object cache): '));

      const cold = await w.rumpkg(['--verbose', 'build'], { cwd: dir });
      expect(cold.code, cold.stderr).toBe(0);
      expect(hits(cold.stderr)).toEqual([]);
      const coldSha = digest();

      const warm = await w.rumpkg(['--verbose', 'build', '--force'], { cwd: dir });
      expect(warm.code, warm.stderr).toBe(0);
      // the application and the glue compiles and the main renaming: from the cache; the link ran,
      // started by the launcher from the cold build's memo (packager/build/early-link.ts)
      expect(hits(warm.stderr).map((l) => l.split(' (object cache)')[0]).sort()).toEqual([`compile ${join(dir, 'app.c')}`, 'compile the orchestration glue', 'rename main to rumpkg_main_0 in obj/app0.o']);
      expect(warm.stderr).toMatch(/^link the image for posix-x86_64 \(started early\): cc /m);
      expect(digest()).toBe(coldSha);

      // every entry damaged (a flipped byte in its last output): each step runs again, same bytes
      // (entries sit in two-hex-digit shards; `tmp` and the `checked` input markers are not entries)
      const entries = readdirSync(objects).filter((d) => /^[0-9a-f]{2}$/.test(d)).flatMap((d) => readdirSync(join(objects, d)).map((f) => join(objects, d, f)));
      expect(entries).toHaveLength(3);
      for (const f of entries) {
        const b = readFileSync(f);
        b[b.length - 1] = b[b.length - 1]! ^ 0x01;
        writeFileSync(f, b);
      }
      const damaged = await w.rumpkg(['--verbose', 'build', '--force'], { cwd: dir });
      expect(damaged.code, damaged.stderr).toBe(0);
      expect(hits(damaged.stderr)).toEqual([]);
      expect(digest()).toBe(coldSha);
      // ...and their entries were written again
      const again = await w.rumpkg(['--verbose', 'build', '--force'], { cwd: dir });
      expect(hits(again.stderr)).toHaveLength(3);
      expect(digest()).toBe(coldSha);

      // --dry-run still prints the whole plan, compiles included, and it makes the same bytes
      const dry = await w.rumpkg(['build', '--dry-run'], { cwd: dir });
      expect(dry.stdout).toMatch(/^cc -c .* -o obj\/app0\.o src\/0\/app\.c$/m);
      expect(dry.stdout).toMatch(/^cc -c .* -o obj\/rumpkg_main\.o glue\/rumpkg_main\.c$/m);
      const byHand = join(w.work, 'udp-cache-by-hand.img');
      execFileSync('sh', ['-c', dry.stdout], { env: { ...process.env, OUT: byHand } });
      expect(createHash('sha256').update(readFileSync(byHand)).digest('hex')).toBe(coldSha);

      // A header the application reads changes, keeping its name: the cache key (which holds the
      // staged header directory's listing) finds the old entry and the link starts from it, the
      // entry's header digests are checked while it runs, and the build compiles again — and
      // reports each step once.
      const header = join(w.work, 'nbsd.h');
      const original = readFileSync(header);
      try {
        writeFileSync(header, Buffer.concat([original, Buffer.from('\nstatic const char rumpkg_header_changed[] __attribute__((used)) = "changed";\n')]));
        const changed = await w.rumpkg(['--verbose', 'build', '--force'], { cwd: dir });
        expect(changed.code, changed.stderr).toBe(0);
        expect(hits(changed.stderr).map((l) => l.split(' (object cache)')[0])).toEqual(['compile the orchestration glue']);
        expect(changed.stderr.split('\n').filter((l) => l.startsWith(`compile ${join(dir, 'app.c')}: `))).toHaveLength(1);
        expect(changed.stderr.split('\n').filter((l) => l.startsWith('link the image for'))).toHaveLength(1);
        expect(digest()).not.toBe(coldSha);
        const dryChanged = await w.rumpkg(['build', '--dry-run'], { cwd: dir });
        execFileSync('sh', ['-c', dryChanged.stdout], { env: { ...process.env, OUT: byHand } });
        expect(createHash('sha256').update(readFileSync(byHand)).digest('hex')).toBe(digest());
      } finally {
        writeFileSync(header, original);
      }
    });
  });

  describe('run', () => {
    it('runs the image build -o wrote; says what to do when it is stale or missing', async () => {
      const dir = join(w.work, 'udp-o');
      cpSync(join(ex, 'udp'), dir, { recursive: true, filter: (s) => !s.includes('/build') });
      const out = join(w.work, 'elsewhere', 'udp.img');
      expect((await w.rumpkg(['build', '-o', out], { cwd: dir })).code).toBe(0);
      const ok = await w.rumpkg(['run'], { cwd: dir });
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toContain('udp: received "hello over rump lo0"');
      writeFileSync(join(dir, 'app.c'), `${readFileSync(join(dir, 'app.c'), 'utf8')}\n/* changed */\n`);
      const stale = await w.rumpkg(['run'], { cwd: dir });
      expect(stale.code).toBe(1);
      expect(stale.stderr).toContain(`error[E_STALE]: ${out} is out of date`);
      expect(stale.stderr).toContain(`hint: rebuild it: rumpkg build --target ${T} -o ${out}`);
      execFileSync('rm', [out]);
      const missing = await w.rumpkg(['run'], { cwd: dir });
      expect(missing.stderr).toContain(`error[E_NOT_FOUND]: no image for ${T}: ${out} does not exist`);
    });
  });

  describe('bad archives', () => {
    const importInto = async (dir: string): Promise<{ code: number; stderr: string; out: string }> => {
      const out = join(w.work, `${dir.split('/').pop()}-out`);
      const r = await w.rumpkg(['import', 'archives', dir, '--target', T, '--version', '1.0.0', '-o', out]);
      return { code: r.code, stderr: r.stderr, out };
    };
    const setOf = (name: string, files: Record<string, Buffer>): string => {
      const dir = join(w.work, name);
      mkdirSync(dir);
      copyFileSync(join(w.build, 'lib', 'librumpnet_netinet.a'), join(dir, 'librumpnet_netinet.a'));
      for (const [f, b] of Object.entries(files)) writeFileSync(join(dir, f), b);
      return dir;
    };

    it('not an ar archive: E_ELF naming the archive, nothing written', async () => {
      const r = await importInto(setOf('bad-notar', { 'librumpvfs.a': Buffer.from('this is not an archive\n') }));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/error\[E_ELF\].*librumpvfs\.a/);
      expect(existsSync(r.out)).toBe(false);
    });

    it('a truncated member: E_ELF naming the archive and the member, nothing written', async () => {
      const full = readFileSync(join(w.build, 'lib', 'librumpnet_net.a'));
      const last = parseAr(full, { file: 'x' }).members.at(-1)!;
      const r = await importInto(setOf('bad-truncated', { 'librumpnet_net.a': full.subarray(0, last.offset + Math.floor(last.size / 2)) }));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/error\[E_ELF\].*librumpnet_net\.a/);
      expect(r.stderr).toContain(last.name);
      expect(existsSync(r.out)).toBe(false);
    });

    it('an archive registering through the link set (rumprun hw) offered for posix: E_TARGET naming archive and member', async () => {
      const hw = realSet('hw');
      if (!hw.available) return;
      const hwLib = join(await hw.dir(), 'lib/rumprun-hw/librumpnet_netinet.a');
      const r = await importInto(setOf('bad-convention', { 'librumpdev_bpf.a': readFileSync(hwLib) }));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/error\[E_TARGET\].*librumpdev_bpf\.a\(netinet_component\.o\) registers its components through link_set_rump_components/);
      expect(existsSync(r.out)).toBe(false);
    });

    it('an object for another architecture: E_ARCH naming the archive', async () => {
      const obj = join(w.work, 'rv.o');
      execFileSync('clang', ['--target=riscv64-unknown-elf', '-c', '-o', obj, '-x', 'c', '-'], { input: 'int rumpns_x;\n' });
      const ar = join(w.work, 'rv.a');
      execFileSync('ar', ['rcsD', ar, obj]);
      const r = await importInto(setOf('bad-arch', { 'librumpvfs.a': readFileSync(ar) }));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/error\[E_ARCH\].*librumpvfs\.a holds riscv64 objects/);
      expect(existsSync(r.out)).toBe(false);
    });
  });
});
