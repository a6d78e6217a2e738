// Build step: precompiles every document schema into standalone ajv validator code
// (dist/schemas/validators.generated.cjs), so the CLI validates without compiling schemas at
// start-up (ajv's compiler costs ~100 ms a process). schemas/validate.ts falls back to
// compiling at run time when the file is absent (sources under vitest).
import { writeFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { SCHEMAS, AJV_OPTIONS } from '../dist/schemas/index.js';

const ajv = new Ajv2020({ ...AJV_OPTIONS, code: { source: true, esm: false, lines: false } });
const refs = {};
for (const [kind, schema] of Object.entries(SCHEMAS)) {
  const id = `urn:rumpkg:validator:${kind}`;
  ajv.addSchema({ ...schema, $id: schema.$id ?? id });
  refs[kind] = schema.$id ?? id;
}
const code = standaloneCode.default ? standaloneCode.default(ajv, refs) : standaloneCode(ajv, refs);
writeFileSync('dist/schemas/validators.generated.cjs', code);
