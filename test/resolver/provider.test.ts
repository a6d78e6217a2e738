/** The in-memory provider (resolver/provider.ts): what it hands out per name, whatever the list's order. */
import { describe, expect, it } from 'vitest';
import { createMemoryProvider, registryOf } from '../../resolver/index.js';

describe('createMemoryProvider', () => {
  it("lists each name's candidates in the list's order, whether a name's candidates are adjacent or not", async () => {
    const list = registryOf({ 'a 1.0.0': {}, 'b 1.0.0': {}, 'a 2.0.0': { b: '^1.0.0' }, 'b 1.1.0': {}, 'a 0.5.0': {}, 'c 3.0.0': {} });
    const provider = createMemoryProvider(list);
    expect((await provider.versions('a')).map((c) => c.version)).toEqual(['1.0.0', '2.0.0', '0.5.0']);
    expect((await provider.versions('b')).map((c) => c.version)).toEqual(['1.0.0', '1.1.0']);
    expect(provider.versionsNow?.('c')?.map((c) => c.version)).toEqual(['3.0.0']);
    // The candidates themselves, not copies; an unknown name has none.
    expect((await provider.versions('a'))[1]).toBe(list[2]);
    expect(await provider.versions('zz')).toEqual([]);
  });

  it('hands out frozen lists and never changes the list it was given', async () => {
    const list = registryOf({ 'a 1.0.0': {}, 'a 2.0.0': {}, 'b 1.0.0': {} });
    const before = [...list];
    const provider = createMemoryProvider(list);
    const a = await provider.versions('a');
    expect(Object.isFrozen(a)).toBe(true);
    expect(a).not.toBe(list);
    expect(list).toEqual(before);
    expect(Object.isFrozen(list)).toBe(false);
  });
});
