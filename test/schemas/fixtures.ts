/** Example documents from DESIGN.md §4 with the `…` placeholders filled in. */
import { createHash } from 'node:crypto';

const sha256 = (s: string): string => `sha256-${createHash('sha256').update(s).digest('base64')}`;
const sha512 = (s: string): string => `sha512-${createHash('sha512').update(s).digest('base64')}`;
const sha1hex = (s: string): string => createHash('sha1').update(s).digest('hex');

/** DESIGN.md §4.1, verbatim apart from the placeholders. */
export function designComponentManifest(): Record<string, unknown> {
  return {
    name: '@rump/tcpip',
    version: '10.0.0',
    license: 'BSD-2-Clause',
    description: 'IPv4 and TCP/UDP (NetBSD netinet)',
    dependencies: { '@rump/net': '^10.0.0' },
    rump: {
      schemaVersion: 1,
      lib: 'librumpnet_netinet',
      aliases: ['netinet', 'rumpnet_netinet'],
      faction: 'net',
      initLevels: ['RUMP_COMPONENT_NET', 'RUMP_COMPONENT_NET_IFCFG'],
      requires: ['hypercall:17'],
      provides: [],
      conflicts: ['@rump/sockin'],
      optionalDependencies: {},
      targets: {
        'posix-x86_64': {
          archive: 'lib/posix-x86_64/librumpnet_netinet.a',
          symbols: { defined: 812, digest: sha256('tcp_input\nudp_input') },
        },
      },
      upstream: {
        project: 'NetBSD',
        repository: 'NetBSD/src',
        ref: 'netbsd-10-0-RELEASE',
        commit: sha1hex('commit'),
        path: 'sys/rump/net/lib/libnetinet',
        files: { 'sys/netinet/tcp_input.c': sha1hex('tcp_input.c') },
      },
    },
  };
}

/** DESIGN.md §4.2, verbatim. */
export function designProjectManifest(): Record<string, unknown> {
  return {
    schemaVersion: 1,
    name: 'hello-net',
    targets: ['posix-x86_64', 'hw-x86_64'],
    components: { tcpip: '^10.0.0', 'virtio-net': '^10.0.0' },
    registries: { '@rump': 'file:~/.rumpkg/registry' },
    image: { entry: ['build/app.o'], net: [{ if: 'vioif0', type: 'inet', method: 'dhcp' }] },
  };
}

function locked(name: string, deps: Record<string, string>, requiredBy: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  const bare = name.split('/')[1] as string;
  return {
    version: '10.0.0',
    registry: '@rump',
    tarball: `${name}/-/${bare}-10.0.0.tgz`,
    integrity: sha512(name),
    license: 'BSD-2-Clause',
    lib: `librump_${bare.replace(/-/g, '_')}`,
    kind: 'component',
    initLevels: [],
    dependencies: deps,
    requires: {},
    provides: [],
    optionalDependencies: {},
    requiredBy,
    ...extra,
  };
}

/** A small lockfile per DESIGN.md §4.3. */
export function sampleLockfile(): Record<string, unknown> {
  return {
    lockfileVersion: 1,
    revision: 0,
    requested: { tcpip: '^10.0.0' },
    targets: {
      'posix-x86_64': {
        platform: '@rump/posix',
        components: {
          '@rump/tcpip': locked('@rump/tcpip', { '@rump/net': '^10.0.0' }, ['<project>'], {
            initLevels: ['RUMP_COMPONENT_NET'],
            requires: { 'hypercall:17': '@rump/posix' },
          }),
          '@rump/net': locked('@rump/net', {}, ['@rump/tcpip']),
          '@rump/posix': locked('@rump/posix', {}, ['@rump/tcpip'], { kind: 'platform', provides: ['hypercall:17'] }),
        },
        linkOrder: ['@rump/tcpip', '@rump/net', '@rump/posix'],
        initOrder: [{ level: 'RUMP_COMPONENT_NET', component: '@rump/tcpip', lib: 'librump_tcpip' }],
      },
    },
  };
}

export function sampleImageManifest(): Record<string, unknown> {
  return {
    imageManifestVersion: 1,
    target: 'posix-x86_64',
    tool: { name: 'rumpkg', version: '0.1.0' },
    project: 'hello-net',
    components: [
      { name: '@rump/tcpip', version: '10.0.0', integrity: sha512('x'), license: 'BSD-2-Clause', lib: 'librumpnet_netinet', kind: 'component' },
    ],
    linkOrder: ['@rump/tcpip'],
    initOrder: [{ level: 'RUMP_COMPONENT_NET', component: '@rump/tcpip', lib: 'librumpnet_netinet' }],
    config: { net: [], block: [], entry: ['build/app.o'] },
  };
}
