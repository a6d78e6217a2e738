/**
 * Any-of requirements (manifest `rump.anyOf`): each group is the virtual package `any:a|b`,
 * satisfied by any version of a member that ships the target. The solution, the lockfile and
 * `renderAnyOfChoice` say which member was chosen and why; failures name the group.
 */
import { describe, expect, it } from 'vitest';
import { parseLockfileText, renderLockfile } from '../../components/index.js';
import {
  buildLockedTarget,
  buildLockfile,
  createMemoryProvider,
  failureToJSON,
  lockedVersions,
  lockfileSatisfies,
  registryOf,
  renderAnyOfChoice,
  renderFailure,
  solve,
  whyChains,
  type Resolution,
  type Solution,
  type SolveRequest,
} from '../../resolver/index.js';

type Spec = Parameters<typeof registryOf>[0];

/** net-net and sockin are the two ways fs-nfs reaches the network (real librumpfs_nfs: proven by symbols). */
const world: Spec = {
  'platform-posix 10.0.0': { kind: 'platform', provides: ['hypercall:17'], targets: ['posix-x86_64'] },
  'platform-hw 10.0.0': { kind: 'platform', provides: ['hypercall:17'], targets: ['hw-x86_64'] },
  'rump 10.0.0': { requires: ['hypercall:17'] },
  'net 10.0.0': { deps: { rump: '^10.0.0' } },
  'net-net 10.0.0': { deps: { net: '^10.0.0' }, conflicts: ['sockin'] },
  'tcpip 10.0.0': { deps: { net: '^10.0.0', 'net-net': '^10.0.0' }, conflicts: ['sockin'] },
  'sockin 10.0.0': { deps: { net: '^10.0.0' }, conflicts: ['net-net', 'tcpip'], targets: ['posix-x86_64'] },
  'fs-nfs 10.0.0': { deps: { net: '^10.0.0' }, anyOf: [['sockin', 'net-net']] },
};

async function run(deps: Record<string, string>, spec: Spec = world, req: Partial<SolveRequest> = {}): Promise<Resolution> {
  return solve({ root: { name: 'hello', dependencies: deps }, target: 'posix-x86_64', ...req }, createMemoryProvider(registryOf(spec, { targets: ['posix-x86_64', 'hw-x86_64'] })));
}

function solution(r: Resolution): Solution {
  if (!r.ok) throw new Error(renderFailure(r.failure));
  return r.solution;
}

function explain(r: Resolution): string {
  if (r.ok) throw new Error(`expected a failure, got ${Object.keys(r.solution.components).join(', ')}`);
  return renderFailure(r.failure);
}

const G = 'net-net|sockin';

describe('any-of requirements', () => {
  it('one member is pulled in: the first by name when several would do; the edge and the choice are recorded', async () => {
    const s = solution(await run({ 'fs-nfs': '*' }));
    expect(Object.keys(s.components)).toEqual(['fs-nfs', 'net', 'net-net', 'platform-posix', 'rump']);
    expect(s.anyOf).toEqual({ [G]: { chosen: 'net-net', because: 'first', others: { sockin: { reason: 'available' } } } });
    expect(s.edges.filter((e) => e.kind === 'anyOf')).toEqual([{ from: 'fs-nfs', to: 'net-net', kind: 'anyOf', group: ['net-net', 'sockin'] }]);
    expect(renderAnyOfChoice('fs-nfs', G, s.anyOf[G]!, { target: 'posix-x86_64' })).toBe(
      'fs-nfs needs one of net-net or sockin; net-net was chosen because it comes first by name; sockin would do as well',
    );
  });

  it('a member requested by the project satisfies the group (no second member)', async () => {
    const s = solution(await run({ 'fs-nfs': '*', sockin: '*' }));
    expect(s.components['net-net']).toBeUndefined();
    expect(s.anyOf[G]).toEqual({ chosen: 'sockin', because: 'requested', others: { 'net-net': { reason: 'conflict', with: 'sockin' } } });
    expect(renderAnyOfChoice('fs-nfs', G, s.anyOf[G]!, { target: 'posix-x86_64' })).toBe('fs-nfs needs one of net-net or sockin; sockin was chosen because rumpkg.json requests it');
  });

  it('a member another component needs anyway satisfies the group', async () => {
    const s = solution(await run({ 'fs-nfs': '*', tcpip: '*' }));
    expect(s.anyOf[G]).toEqual({ chosen: 'net-net', because: 'needed', others: { sockin: { reason: 'conflict', with: 'net-net' } } });
    expect(renderAnyOfChoice('fs-nfs', G, s.anyOf[G]!, { target: 'posix-x86_64', neededBy: ['tcpip'] })).toBe(
      'fs-nfs needs one of net-net or sockin; net-net was chosen because tcpip needs it anyway',
    );
  });

  it('a member that does not ship the target leaves the other as the only one', async () => {
    const s = solution(await run({ 'fs-nfs': '*' }, world, { target: 'hw-x86_64' }));
    expect(s.anyOf[G]).toEqual({ chosen: 'net-net', because: 'only', others: { sockin: { reason: 'target' } } });
    expect(renderAnyOfChoice('fs-nfs', G, s.anyOf[G]!, { target: 'hw-x86_64' })).toBe(
      'fs-nfs needs one of net-net or sockin; net-net was chosen because sockin does not ship hw-x86_64',
    );
  });

  it('a member that conflicts with the closure is avoided', async () => {
    const s = solution(await run({ 'fs-nfs': '*', old: '*' }, { ...world, 'old 1.0.0': { conflicts: ['net-net'] } }));
    expect(Object.keys(s.components)).toContain('sockin');
    expect(s.components['net-net']).toBeUndefined();
    expect(s.anyOf[G]).toEqual({ chosen: 'sockin', because: 'only', others: { 'net-net': { reason: 'conflict', with: 'old' } } });
  });

  it('a member that fails deeper is tried first, then the next one is chosen', async () => {
    const s = solution(await run({ 'fs-nfs': '*' }, { ...world, 'net-net 10.0.0': { deps: { missing: '^1.0.0' } } }));
    expect(s.anyOf[G]).toEqual({ chosen: 'sockin', because: 'only', others: { 'net-net': { reason: 'unusable' } } });
    expect(renderAnyOfChoice('fs-nfs', G, s.anyOf[G]!, { target: 'posix-x86_64' })).toBe(
      'fs-nfs needs one of net-net or sockin; sockin was chosen because net-net cannot be used in this closure',
    );
  });

  it('members that are not published or only yanked are named as such', async () => {
    const spec: Spec = { ...world, 'fs-nfs 10.0.0': { anyOf: [['sockin', 'net-net', 'ghost', 'gone']] }, 'gone 1.0.0': { yanked: true } };
    const s = solution(await run({ 'fs-nfs': '*' }, spec, { target: 'hw-x86_64' }));
    const key = 'ghost|gone|net-net|sockin';
    expect(s.anyOf[key]).toEqual({
      chosen: 'net-net',
      because: 'only',
      others: { ghost: { reason: 'missing' }, gone: { reason: 'unavailable' }, sockin: { reason: 'target' } },
    });
    expect(renderAnyOfChoice('fs-nfs', key, s.anyOf[key]!, { target: 'hw-x86_64' })).toBe(
      'fs-nfs needs one of ghost, gone, net-net or sockin; net-net was chosen because ghost is not published and gone has only yanked or prerelease versions for hw-x86_64 and sockin does not ship hw-x86_64',
    );
  });

  it('prefers the locked choice, and says so', async () => {
    const r = await run({ 'fs-nfs': '*' }, world, { locked: { [`any:${G}`]: 'sockin' } });
    const s = solution(r);
    expect(s.anyOf[G]).toEqual({ chosen: 'sockin', because: 'locked', others: { 'net-net': { reason: 'available' } } });
    expect(renderAnyOfChoice('fs-nfs', G, s.anyOf[G]!, { target: 'posix-x86_64' })).toBe(
      'fs-nfs needs one of net-net or sockin; sockin was chosen because rumpkg.lock had chosen it; net-net would do as well',
    );
  });

  it('the lockfile records the choice on the requirer, the edge in requiredBy, and the preference for the next solve', async () => {
    const s = solution(await run({ 'fs-nfs': '*' }, world, { target: 'hw-x86_64' }));
    const t = buildLockedTarget(s);
    expect(t.components['fs-nfs']?.anyOf).toEqual({ [G]: { chosen: 'net-net', because: 'only', others: { sockin: { reason: 'target' } } } });
    expect(t.components['net']?.anyOf).toBeUndefined();
    expect(t.components['net-net']?.requiredBy).toEqual(['fs-nfs']);
    expect(t.linkOrder.indexOf('fs-nfs')).toBeLessThan(t.linkOrder.indexOf('net-net'));
    expect(whyChains(t, 'net-net')).toEqual([['<project>', 'fs-nfs', 'net-net']]);
    const lock = buildLockfile({ 'fs-nfs': '*' }, { 'hw-x86_64': t });
    expect(lock.revision).toBe(1);
    expect(lockedVersions(lock, 'hw-x86_64')[`any:${G}`]).toBe('net-net');
    expect(lockfileSatisfies(lock, { components: { 'fs-nfs': '*' }, targets: ['hw-x86_64'] })).toEqual([]);
    // Round trip through the schema and the semantic checks.
    const text = renderLockfile(lock);
    expect(text).toContain('"net-net|sockin": {\n');
    const parsed = parseLockfileText(text, { file: 'rumpkg.lock' });
    expect(parsed.errors).toEqual([]);
    expect(parsed.value?.targets['hw-x86_64']?.components['fs-nfs']?.anyOf).toEqual(t.components['fs-nfs']?.anyOf);
  });

  it('a lockfile whose choice is not a member of the group, or not in the closure, is refused', async () => {
    const t = buildLockedTarget(solution(await run({ 'fs-nfs': '*' }, world, { target: 'hw-x86_64' })));
    const lock = buildLockfile({ 'fs-nfs': '*' }, { 'hw-x86_64': t });
    const edited = JSON.parse(renderLockfile(lock)) as { targets: Record<string, { components: Record<string, { anyOf?: Record<string, { chosen: string }> }> }> };
    (edited.targets['hw-x86_64']!.components['fs-nfs']!.anyOf![G] as { chosen: string }).chosen = 'net';
    const r = parseLockfileText(JSON.stringify(edited), { file: 'rumpkg.lock' });
    expect(r.errors.map((e) => [e.pointer, e.message])).toEqual([
      ['/targets/hw-x86_64/components/fs-nfs/anyOf/net-net|sockin/chosen', 'net is not a member of the group net-net | sockin'],
    ]);
    const gone = structuredClone(lock);
    delete gone.targets['hw-x86_64']!.components['net-net'];
    expect(lockfileSatisfies(gone, { components: { 'fs-nfs': '*' }, targets: ['hw-x86_64'] })).toContain(
      'hw-x86_64: fs-nfs needs one of net-net or sockin, but net-net is not in the closure',
    );
  });
});

describe('any-of failures', () => {
  it('no member ships the target', async () => {
    const spec: Spec = { ...world, 'fs-nfs 10.0.0': { anyOf: [['net-net', 'sockin']], targets: ['xen-x86_64'] }, 'net-net 10.0.0': { targets: ['posix-x86_64'] } };
    expect(explain(await run({ 'fs-nfs': '*' }, spec, { target: 'xen-x86_64' }))).toBe(
      [
        'Because every version of fs-nfs requires one of net-net or sockin which has no member for xen-x86_64 (net-net, sockin ship other targets only), fs-nfs is forbidden.',
        'So, because hello depends on fs-nfs, version solving failed.',
      ].join('\n'),
    );
  });

  it('no member exists', async () => {
    const spec: Spec = { 'fs-nfs 1.0.0': { anyOf: [['a', 'b']] } };
    expect(explain(await run({ 'fs-nfs': '*' }, spec))).toBe(
      [
        'Because every version of fs-nfs requires one of a or b which has no member for posix-x86_64 (a, b do not exist), fs-nfs is forbidden.',
        'So, because hello depends on fs-nfs, version solving failed.',
      ].join('\n'),
    );
  });

  it('the only member for the target conflicts with a request', async () => {
    const r = await run({ 'fs-nfs': '*', old: '*' }, { ...world, 'old 1.0.0': { conflicts: ['net-net'] } }, { target: 'hw-x86_64' });
    expect(explain(r)).toBe(
      [
        'Because every version of old conflicts with net-net and one of net-net or sockin is satisfied only by net-net, old is incompatible with one of net-net or sockin.',
        'And because every version of fs-nfs requires one of net-net or sockin, old is incompatible with fs-nfs.',
        'So, because hello depends on both fs-nfs and old, version solving failed.',
      ].join('\n'),
    );
    if (r.ok) return;
    const nodes = failureToJSON(r.failure).nodes;
    expect(nodes.find((n) => n.cause === 'anyOf')?.details).toEqual({ group: ['net-net', 'sockin'] });
    expect(nodes.find((n) => n.cause === 'alternative')?.details).toEqual({ group: ['net-net', 'sockin'], provider: 'net-net' });
  });

  it('every member is excluded: one by a conflict, the other by a missing dependency', async () => {
    const spec: Spec = { ...world, 'old 1.0.0': { conflicts: ['net-net'] }, 'sockin 10.0.0': { deps: { missing: '^1.0.0' } } };
    expect(explain(await run({ 'fs-nfs': '*', old: '*' }, spec))).toBe(
      [
        'Because every version of old conflicts with net-net and one of net-net or sockin from net-net requires net-net, old is incompatible with one of net-net or sockin from net-net.',
        'And because one of net-net or sockin has no other member for posix-x86_64, old is incompatible with one of net-net or sockin from net-net.',
        'And because every version of fs-nfs requires one of net-net or sockin and one of net-net or sockin from sockin requires sockin, if old any and fs-nfs any then sockin.',
        "And because every version of sockin depends on missing ^1.0.0 which doesn't exist, old is incompatible with fs-nfs.",
        'So, because hello depends on both fs-nfs and old, version solving failed.',
      ].join('\n'),
    );
  });
});
