/**
 * pub's classic PubGrub scenarios (dart-lang/pub doc/solver.md § Examples), with the same
 * package names and the same expected explanations. Adaptations: the project is called `root`
 * and is rendered without a version, exactly as in the document.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryProvider, registryOf, renderFailure, solve, TEST_TARGET, type Resolution } from '../../resolver/index.js';

type Spec = Parameters<typeof registryOf>[0];

async function run(rootDeps: Record<string, string>, spec: Spec): Promise<Resolution> {
  return solve({ root: { name: 'root', dependencies: rootDeps }, target: TEST_TARGET }, createMemoryProvider(registryOf(spec)));
}

function versions(r: Resolution): Record<string, string> {
  if (!r.ok) throw new Error(renderFailure(r.failure));
  return Object.fromEntries(Object.entries(r.solution.components).map(([n, c]) => [n, c.version]));
}

function explain(r: Resolution): string {
  if (r.ok) throw new Error(`expected a failure, got ${JSON.stringify(versions(r))}`);
  return renderFailure(r.failure);
}

describe('pub doc/solver.md examples', () => {
  it('no conflicts', async () => {
    const r = await run({ foo: '^1.0.0' }, { 'foo 1.0.0': { bar: '^1.0.0' }, 'bar 1.0.0': {}, 'bar 2.0.0': {} });
    expect(versions(r)).toEqual({ foo: '1.0.0', bar: '1.0.0' });
  });

  it('avoiding conflict during decision making', async () => {
    const r = await run(
      { foo: '^1.0.0', bar: '^1.0.0' },
      { 'foo 1.1.0': { bar: '^2.0.0' }, 'foo 1.0.0': {}, 'bar 1.0.0': {}, 'bar 1.1.0': {}, 'bar 2.0.0': {} },
    );
    expect(versions(r)).toEqual({ foo: '1.0.0', bar: '1.1.0' });
  });

  it('performing conflict resolution', async () => {
    const r = await run({ foo: '>=1.0.0' }, { 'foo 2.0.0': { bar: '^1.0.0' }, 'foo 1.0.0': {}, 'bar 1.0.0': { foo: '^1.0.0' } });
    expect(versions(r)).toEqual({ foo: '1.0.0' });
  });

  it('conflict resolution with a partial satisfier', async () => {
    const r = await run(
      { foo: '^1.0.0', target: '^2.0.0' },
      {
        'foo 1.1.0': { left: '^1.0.0', right: '^1.0.0' },
        'foo 1.0.0': {},
        'left 1.0.0': { shared: '>=1.0.0' },
        'right 1.0.0': { shared: '<2.0.0' },
        'shared 2.0.0': {},
        'shared 1.0.0': { target: '^1.0.0' },
        'target 2.0.0': {},
        'target 1.0.0': {},
      },
    );
    expect(versions(r)).toEqual({ foo: '1.0.0', target: '2.0.0' });
  });

  it('linear error reporting', async () => {
    const r = await run(
      { foo: '^1.0.0', baz: '^1.0.0' },
      { 'foo 1.0.0': { bar: '^2.0.0' }, 'bar 2.0.0': { baz: '^3.0.0' }, 'baz 1.0.0': {}, 'baz 3.0.0': {} },
    );
    expect(explain(r)).toBe(
      [
        'Because every version of foo depends on bar ^2.0.0 which depends on baz ^3.0.0, every version of foo requires baz ^3.0.0.',
        'So, because root depends on both baz ^1.0.0 and foo ^1.0.0, version solving failed.',
      ].join('\n'),
    );
  });

  // As pub's writer does, once any line carries a number every other line is indented by the
  // width of "(1) " so the sentences stay aligned (the document's table shows them unpadded).
  it('branching error reporting', async () => {
    const r = await run(
      { foo: '^1.0.0' },
      {
        'foo 1.0.0': { a: '^1.0.0', b: '^1.0.0' },
        'foo 1.1.0': { x: '^1.0.0', y: '^1.0.0' },
        'a 1.0.0': { b: '^2.0.0' },
        'b 1.0.0': {},
        'b 2.0.0': {},
        'x 1.0.0': { y: '^2.0.0' },
        'y 1.0.0': {},
        'y 2.0.0': {},
      },
    );
    expect(explain(r)).toBe(
      [
        '    Because foo <1.1.0 depends on a ^1.0.0 which depends on b ^2.0.0, foo <1.1.0 requires b ^2.0.0.',
        '(1) So, because foo <1.1.0 depends on b ^1.0.0, foo <1.1.0 is forbidden.',
        '',
        '    Because foo >=1.1.0 depends on x ^1.0.0 which depends on y ^2.0.0, foo >=1.1.0 requires y ^2.0.0.',
        '    And because foo >=1.1.0 depends on y ^1.0.0, foo >=1.1.0 is forbidden.',
        '    And because foo <1.1.0 is forbidden (1), foo is forbidden.',
        '    So, because root depends on foo ^1.0.0, version solving failed.',
      ].join('\n'),
    );
  });
});
