import { createServer, type Server, type Socket } from 'node:net';
import { ServerTCP } from 'modbus-serial';
import { afterEach, describe, expect, it } from 'vitest';
import type { SampleBlock } from '../../domain/channel.js';
import { VirtualClock } from '../../ingest/clock.js';
import { freePort } from '../mqtt/mosquitto-launcher.js';
import { encodeWords } from './decode.js';
import { ModbusSource, type ModbusSourceConfig } from './modbus-source.js';

const UNIT = 7;

/** A PLC stand-in: register tables the test edits, served by modbus-serial's real TCP server. */
class Plc {
  readonly holding = new Uint16Array(1024);
  readonly input = new Uint16Array(1024);
  readonly coils = new Array<boolean>(64).fill(false);
  readonly discretes = new Array<boolean>(64).fill(false);
  requests = 0;
  private server: ServerTCP | undefined;

  constructor(readonly port: number) {}

  async start(): Promise<void> {
    const illegal = (addr: number) => {
      if (addr >= 400) throw { modbusErrorCode: 0x02 };
    };
    const vector = {
      getMultipleHoldingRegisters: (addr: number, len: number) => {
        this.requests++;
        illegal(addr);
        return Array.from(this.holding.subarray(addr, addr + len));
      },
      getHoldingRegister: (addr: number) => {
        this.requests++;
        illegal(addr);
        return this.holding[addr]!;
      },
      getMultipleInputRegisters: (addr: number, len: number) => {
        this.requests++;
        return Array.from(this.input.subarray(addr, addr + len));
      },
      getInputRegister: (addr: number) => {
        this.requests++;
        return this.input[addr]!;
      },
      getCoil: (addr: number) => this.coils[addr]!,
      getDiscreteInput: (addr: number) => this.discretes[addr]!,
    };
    const server = new ServerTCP(vector, { host: '127.0.0.1', port: this.port, unitID: UNIT });
    await new Promise<void>((resolve, reject) => {
      server.on('initialized', () => resolve());
      server.on('serverError', reject);
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  set(table: Uint16Array, address: number, words: number[]): void {
    table.set(words, address);
  }
}

let plc: Plc | undefined;
let source: ModbusSource | undefined;
let silent: Server | undefined;
afterEach(async () => {
  await source?.stop();
  await plc?.stop();
  await new Promise((r) => (silent ? silent.close(r) : r(undefined)));
  source = undefined;
  plc = undefined;
  silent = undefined;
});

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Moves virtual time and waits until the poll cycle it triggered has finished (it re-arms one timer). */
async function step(clock: VirtualClock, ms: number): Promise<void> {
  clock.advance(ms);
  await waitFor('the poll cycle to finish', () => clock.pending() === 1);
}

const ch = (name: string, extra: Omit<ModbusSourceConfig['channels'][number], 'name' | 'asset'>) => ({
  name,
  asset: 'press1',
  ...extra,
});

function config(port: number): ModbusSourceConfig {
  return {
    id: 'plc',
    host: '127.0.0.1',
    port,
    unitId: UNIT,
    pollIntervalMs: 1000,
    timeoutMs: 500,
    reconnectInitialMs: 500,
    channels: [
      ch('raw_scaled', { register: 'holding', address: 0, dataType: 'uint16', scale: 0.1, offset: -10, unit: 'bar' }),
      ch('signed', { register: 'holding', address: 1, dataType: 'int16' }),
      ch('float_abcd', { register: 'holding', address: 10, dataType: 'float32', wordOrder: 'big', unit: 'degC' }),
      ch('float_cdab', { register: 'holding', address: 12, dataType: 'float32', wordOrder: 'little' }),
      ch('int32', { register: 'holding', address: 20, dataType: 'int32' }),
      ch('input_scaled', { register: 'input', address: 3, scale: 0.01, unit: 'A' }),
      ch('uint32_cdab', { register: 'input', address: 4, dataType: 'uint32', wordOrder: 'little' }),
      ch('running', { register: 'coil', address: 2, dataType: 'bool' }),
      ch('alarm', { register: 'discrete', address: 6, dataType: 'bool' }),
    ],
  };
}

function seed(p: Plc): void {
  p.set(p.holding, 0, [1234]);
  p.set(p.holding, 1, encodeWords(-5, 'int16', 'big'));
  p.set(p.holding, 10, encodeWords(123.5, 'float32', 'big'));
  p.set(p.holding, 12, encodeWords(-7.25, 'float32', 'little'));
  p.set(p.holding, 20, encodeWords(-100_000, 'int32', 'big'));
  p.set(p.input, 3, [500]);
  p.set(p.input, 4, encodeWords(70_000, 'uint32', 'little'));
  p.coils[2] = true;
}

async function setup() {
  plc = new Plc(await freePort());
  seed(plc);
  await plc.start();
  const clock = new VirtualClock(Date.UTC(2026, 2, 1));
  const latest = new Map<string, { t: number; v: number }>();
  source = new ModbusSource(config(plc.port), { clock });
  await source.start((b: SampleBlock) => latest.set(b.channel, { t: b.t0Ms, v: b.values[0]! }));
  return { clock, latest, src: source, p: plc };
}

const values = (latest: Map<string, { v: number }>) => Object.fromEntries([...latest].map(([k, x]) => [k, x.v]));

describe('ModbusSource against a real Modbus TCP server', () => {
  it('decodes types, word orders and scaling from batched reads', async () => {
    const { clock, latest, src, p } = await setup();
    await step(clock, 0);
    expect(values(latest)).toEqual({
      raw_scaled: 1234 * 0.1 - 10,
      signed: -5,
      float_abcd: 123.5,
      float_cdab: -7.25,
      int32: -100_000,
      input_scaled: 5,
      uint32_cdab: 70_000,
      running: 1,
      alarm: 0,
    });
    expect([...latest.values()].every((x) => x.t === Date.UTC(2026, 2, 1))).toBe(true);
    expect(src.readPlan().map((r) => `${r.register}@${r.start}+${r.count}`)).toEqual([
      'holding@0+22',
      'input@3+3',
      'coil@2+1',
      'discrete@6+1',
    ]);
    expect(p.requests).toBe(2);
    expect(src.channels.find((c) => c.name === 'raw_scaled')).toMatchObject({
      unit: 'bar',
      sampleRateHz: 1,
      kind: 'process',
    });
    expect(src.stats()).toMatchObject({ connected: true, polls: 1, samples: 9, errors: 0 });
  });

  it('follows register values as they change, one poll per interval', async () => {
    const { clock, latest, src, p } = await setup();
    await step(clock, 0);
    p.set(p.holding, 10, encodeWords(99.25, 'float32', 'big'));
    p.discretes[6] = true;
    await step(clock, 999);
    expect(src.stats().polls).toBe(1);
    await step(clock, 1);
    expect(src.stats().polls).toBe(2);
    expect(latest.get('float_abcd')).toEqual({ t: Date.UTC(2026, 2, 1) + 1000, v: 99.25 });
    expect(latest.get('alarm')?.v).toBe(1);
  });

  it('counts the errors of a server restart, backs off and resumes on the same port', async () => {
    const { clock, latest, src, p } = await setup();
    await step(clock, 0);
    await p.stop();
    await waitFor('the client to see the close', () => !src.stats().connected);
    await step(clock, 1000);
    expect(src.stats().errors).toBe(1);
    await step(clock, 500);
    expect(src.stats()).toMatchObject({ connected: false, errors: 2 });
    p.set(p.holding, 0, [2000]);
    await p.start();
    await step(clock, 999);
    expect(src.stats().connected).toBe(false);
    await step(clock, 1);
    expect(src.stats()).toMatchObject({ connected: true, reconnects: 1, polls: 2 });
    expect(latest.get('raw_scaled')?.v).toBe(190);
  });

  it('skips only the channels of a read the PLC refuses and keeps the connection', async () => {
    plc = new Plc(await freePort());
    seed(plc);
    await plc.start();
    const clock = new VirtualClock(0);
    const got = new Map<string, number>();
    const cfg = config(plc.port);
    source = new ModbusSource(
      { ...cfg, channels: [...cfg.channels, ch('missing', { register: 'holding', address: 400 })] },
      { clock },
    );
    await source.start((b) => got.set(b.channel, b.values[0]!));
    await step(clock, 0);
    await step(clock, 1000);
    expect(got.has('missing')).toBe(false);
    expect(got.get('float_abcd')).toBe(123.5);
    expect(source.stats()).toMatchObject({ connected: true, polls: 2, errors: 2, reconnects: 0 });
    expect(source.stats().lastError).toMatch(/illegal data address/i);
  });

  it('times out on a device that accepts the connection but never answers, then reconnects', async () => {
    const port = await freePort();
    const sockets: Socket[] = [];
    silent = createServer((sock) => sockets.push(sock));
    await new Promise<void>((r) => silent!.listen(port, '127.0.0.1', r));
    const clock = new VirtualClock(0);
    source = new ModbusSource({ ...config(port), timeoutMs: 200 }, { clock });
    await source.start(() => undefined);
    await step(clock, 0);
    expect(source.stats()).toMatchObject({ connected: false, polls: 0, errors: 1, timeouts: 1 });
    await step(clock, 500);
    expect(source.stats()).toMatchObject({ reconnects: 1, errors: 2, timeouts: 2 });
    for (const s of sockets) s.destroy();
  });
});
