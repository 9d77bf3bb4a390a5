/** `CI` set to any truthy value makes a missing tool a failure instead of a skip. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCi, missingTool } from './helpers/ci.js';

describe('CI environment', () => {
  it('any truthy CI value counts as CI, anything else does not', () => {
    for (const value of ['true', '1', 'yes', 'on', 'TRUE', 'Yes', ' true ']) {
      assert.equal(isCi({ CI: value }), true, `CI=${JSON.stringify(value)}`);
    }
    for (const value of [undefined, '', '0', 'false', 'no', 'off', 'FALSE']) {
      assert.equal(isCi({ CI: value }), false, `CI=${JSON.stringify(value)}`);
    }
  });

  it('a missing tool throws under CI=1 and is a skip reason without CI', (t) => {
    const saved = process.env.CI;
    t.after(() => {
      if (saved === undefined) delete process.env.CI;
      else process.env.CI = saved;
    });
    process.env.CI = '1';
    assert.throws(() => missingTool('a-tool', 'a-tool not found', 'Install it.'), /required/);
    process.env.CI = 'false';
    assert.equal(missingTool('a-tool', 'a-tool not found', 'Install it.'), 'a-tool not found');
  });
});
