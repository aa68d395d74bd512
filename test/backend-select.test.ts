// Backend selection (lib/backend/index.ts): the environment variable, the fallback to js with one
// warning that carries the reason, use()/current()/available()/info()/setNumThreads().
// Each case imports a fresh copy of the module, with the native loader real or made to fail.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { tryLoadNative } from './support/native.js';

type IndexModule = typeof import('../lib/backend/index.js');

const nativeLoads = tryLoadNative().native !== null;

async function freshIndex(env: string | undefined, failNative: string | null): Promise<IndexModule> {
  vi.resetModules();
  if (env === undefined) delete process.env.BACKPROP_BACKEND;
  else process.env.BACKPROP_BACKEND = env;
  if (failNative !== null) {
    vi.doMock('../lib/backend/native.js', () => ({
      loadNative: () => {
        throw new Error(failNative);
      },
    }));
  } else {
    vi.doUnmock('../lib/backend/native.js');
  }
  return import('../lib/backend/index.js');
}

const savedEnv = process.env.BACKPROP_BACKEND;
afterEach(() => {
  if (savedEnv === undefined) delete process.env.BACKPROP_BACKEND;
  else process.env.BACKPROP_BACKEND = savedEnv;
  vi.restoreAllMocks();
  vi.doUnmock('../lib/backend/native.js');
});

describe('backend selection when the addon cannot load', () => {
  it('falls back to js with exactly one warning that says why', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const { backend, kernels } = await freshIndex(undefined, 'simulated: no prebuild for this platform');
    for (let i = 0; i < 5; i++) expect(kernels().name).toBe('js');
    expect(backend.current()).toBe('js');
    expect(backend.info()).toEqual({ name: 'js', blas: 'js', simd: 'scalar', threads: 1 });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toContain('simulated: no prebuild for this platform');
    expect(backend.available()).toEqual(['js']);
    expect(backend.nativeError()).toContain('simulated');
  });

  it("use('native') throws the reason", async () => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const { backend } = await freshIndex(undefined, 'simulated: bad ELF header');
    expect(() => backend.use('native')).toThrow(/simulated: bad ELF header/);
  });

  it('BACKPROP_BACKEND=native fails loudly instead of falling back', async () => {
    const { kernels } = await freshIndex('native', 'simulated: missing symbol');
    expect(() => kernels()).toThrow(/simulated: missing symbol/);
  });

  it('BACKPROP_BACKEND=js chooses js without a warning', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const { backend } = await freshIndex('js', 'simulated');
    expect(backend.current()).toBe('js');
    expect(warn).not.toHaveBeenCalled();
  });

  it('rejects an unknown BACKPROP_BACKEND and an unknown use() name', async () => {
    const { kernels, backend } = await freshIndex('gpu', null);
    expect(() => kernels()).toThrow(/BACKPROP_BACKEND.*gpu/);
    expect(() => backend.use('cuda' as 'js')).toThrow(TypeError);
    expect(() => backend.setNumThreads(0)).toThrow(RangeError);
  });
});

describe.skipIf(!nativeLoads)('backend selection with the addon', () => {
  it('defaults to native, switches both ways, and remembers the thread count', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const { backend, kernels } = await freshIndex(undefined, null);
    expect(backend.current()).toBe('native');
    expect(backend.available()).toEqual(['native', 'js']);
    expect(backend.nativeError()).toBeNull();
    const threadsBefore = backend.info().threads;
    try {
      backend.use('js');
      expect(kernels().name).toBe('js');
      backend.setNumThreads(1); // js ignores it; native gets it when chosen again
      backend.use('native');
      expect(backend.info()).toMatchObject({ name: 'native', threads: 1 });
    } finally {
      backend.use('native');
      backend.setNumThreads(threadsBefore);
    }
    expect(warn).not.toHaveBeenCalled();
  });
});
