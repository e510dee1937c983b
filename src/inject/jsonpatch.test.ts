/** @module Property tests: diff(a, b) applied to a gives b — on plain JSON and on a YAML Document (the inject CLI's path). */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseDocument, stringify } from 'yaml';
import { applyToDocument } from './document.js';
import { applyPatch, diff, parsePointer, pointer, type Json } from './jsonpatch.js';

const key = fc.constantFrom('name', 'image', 'a', 'b', 'podkit.io/x', 'til~de', 'containers', '0');
const json: fc.Arbitrary<Json> = fc.letrec<{ v: Json }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom<Json>(null, true, false, 0, 1, 'x', 'y', ''),
    fc.array(tie('v'), { maxLength: 4 }),
    // Lists of named objects exercise the by-name matching (containers, volumes, mounts).
    fc.uniqueArray(fc.record({ name: fc.constantFrom('app', 'web', 'side', 'db', 'x'), v: tie('v') }), { maxLength: 4, selector: (o) => o.name }) as fc.Arbitrary<Json>,
    fc.dictionary(key, tie('v'), { maxKeys: 4 }),
  ),
})).v.map((v) => JSON.parse(JSON.stringify(v)) as Json); // plain prototypes, as parsed JSON/YAML has

describe('jsonpatch', () => {
  test('pointers round-trip with ~ and / escaped', () => {
    assert.equal(pointer(['metadata', 'annotations', 'podkit.io/status', 'a~b']), '/metadata/annotations/podkit.io~1status/a~0b');
    assert.deepEqual(parsePointer('/metadata/annotations/podkit.io~1status/a~0b'), ['metadata', 'annotations', 'podkit.io/status', 'a~b']);
  });

  test('applyPatch(a, diff(a, b)) equals b', () => {
    fc.assert(fc.property(json, json, (a, b) => assert.deepEqual(applyPatch(a, diff(a, b)), b)), { numRuns: 2000 });
  });

  test('the same patch applied to a YAML Document of a gives b', () => {
    const obj = fc.dictionary(key, json, { maxKeys: 5 }).map((v) => JSON.parse(JSON.stringify(v)) as Json);
    fc.assert(
      fc.property(obj, obj, (a, b) => {
        const doc = parseDocument(stringify(a));
        applyToDocument(doc, diff(a, b));
        assert.deepEqual(doc.toJS(), b);
        assert.deepEqual(parseDocument(doc.toString()).toJS(), b);
      }),
      { numRuns: 300 },
    );
  });

  test('an app container that gains a mount gets one add, not a replacement', () => {
    const a: Json = { containers: [{ name: 'web', image: 'nginx' }, { name: 'app', image: 'x' }] };
    const b: Json = { containers: [{ name: 'web', image: 'nginx', volumeMounts: [{ name: 'v', mountPath: '/v' }] }, { name: 'app', image: 'x' }] };
    assert.deepEqual(diff(a, b), [{ op: 'add', path: '/containers/0/volumeMounts', value: [{ name: 'v', mountPath: '/v' }] }]);
  });

  test('bad patches are errors, not silent', () => {
    assert.throws(() => applyPatch({ a: [] }, [{ op: 'remove', path: '/a/0' }]), /out of range/);
    assert.throws(() => applyPatch({}, [{ op: 'replace', path: '/x', value: 1 }]), /does not exist/);
    assert.throws(() => applyPatch({}, [{ op: 'add', path: 'x', value: 1 }]), /bad JSON pointer/);
    assert.throws(() => applyPatch({ a: [1] }, [{ op: 'add', path: '/a/01', value: 1 }]), /bad array index/);
  });
});
