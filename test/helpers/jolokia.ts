/** @module A real JVM serving the Jolokia protocol (Debian's jolokia-core.jar) from test/fixtures/metrics-adapter/jmx, on a free loopback port. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, startProcess, tempDir, waitForOutput, type Proc } from './proc.js';
import { requireBinary } from './redis.js';

const JAVA_HOME = process.env.PODKIT_JAVA_HOME ?? '/usr/lib/jvm/java-17-openjdk-amd64';
const JOLOKIA_JAR = process.env.PODKIT_JOLOKIA_JAR ?? '/usr/share/java/jolokia-core.jar';
const JSON_SIMPLE_JAR = '/usr/share/java/json-simple.jar';
const SOURCE = fileURLToPath(new URL('../fixtures/metrics-adapter/jmx/JolokiaHarness.java', import.meta.url));

export interface Jolokia {
  readonly port: number;
  /** Agent URL, e.g. http://127.0.0.1:PORT/jolokia */
  readonly url: string;
  readonly proc: Proc;
  stop(): Promise<void>;
}

let compiled: Promise<string> | undefined;
let compiledDir = '';

/** Compile the harness once per test process into a temp dir. */
function compile(): Promise<string> {
  if (compiled && !existsSync(compiledDir)) compiled = undefined; // stopAll() removed it
  compiled ??= (async () => {
    const javac = join(JAVA_HOME, 'bin/javac');
    requireBinary(javac);
    for (const jar of [JOLOKIA_JAR, JSON_SIMPLE_JAR]) {
      if (!existsSync(jar)) throw new Error(`${jar} is missing: run npm run setup (Debian libjolokia-core-java)`);
    }
    const out = tempDir('podkit-jmx-');
    compiledDir = out;
    const r = await run(javac, ['-nowarn', '-cp', `${JOLOKIA_JAR}:${JSON_SIMPLE_JAR}`, '-d', out, SOURCE], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`javac failed: ${r.stderr}`);
    return out;
  })();
  return compiled;
}

/** Start the harness JVM (MBeans com.example:type=Cache,name=users|orders plus the platform MBeans). */
export async function startJolokia(): Promise<Jolokia> {
  const classes = await compile();
  const proc = startProcess(join(JAVA_HOME, 'bin/java'), ['-Xmx64m', '-XX:TieredStopAtLevel=1', '-cp', `${classes}:${JOLOKIA_JAR}:${JSON_SIMPLE_JAR}`, 'JolokiaHarness', '0'], { name: 'jolokia-jvm' });
  const m = await waitForOutput(proc, /LISTENING (\d+)/, 30_000);
  const port = Number(m[1]);
  return { port, url: `http://127.0.0.1:${port}/jolokia`, proc, stop: () => proc.stop() };
}
