/**
 * A refused packument is blamed on where it came from: the packument URL, redacted (RG-09) —
 * whether the registry URL carries credentials or not (the client skips the redaction only
 * when it cannot change anything).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRumpkgError } from '../../components/index.js';
import { createRegistryClient } from '../../registry/index.js';
import { startServer, tempDir, type TestServer } from './client-fixtures.js';

let server: TestServer;

beforeAll(async () => {
  // Every packument it serves has a duplicate key: the safe reader refuses it.
  server = await startServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"name":"@rump/x","versions":{},"versions":{}}');
  });
});
afterAll(() => server.close());

async function refusal(registry: string): Promise<Error> {
  try {
    await createRegistryClient({ home: tempDir('pk-source-home'), registries: { '@rump': registry } }).packument('@rump/x');
  } catch (e) {
    if (isRumpkgError(e, 'E_REGISTRY')) return e;
    throw e;
  }
  throw new Error('the packument was accepted');
}

describe('the source named by a refused packument', () => {
  it('a plain registry URL: the packument URL as requested', async () => {
    const e = await refusal(server.url);
    expect(e.message).toBe(`${server.url}@rump%2fx: the registry metadata of @rump/x is refused: /versions: the key "versions" appears twice in one object`);
  });

  it('a registry URL with credentials: the packument URL without them', async () => {
    const withUser = server.url.replace('http://', 'http://user:s3cret@');
    const e = await refusal(withUser);
    expect(e.message).toBe(`${server.url}@rump%2fx: the registry metadata of @rump/x is refused: /versions: the key "versions" appears twice in one object`);
    expect(JSON.stringify({ message: e.message, context: (e as { context?: unknown }).context })).not.toContain('s3cret');
  });
});
