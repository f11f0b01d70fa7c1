import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IniParseError, lookupIni, parseIni } from '../../../src/config/ini.js';

function value(text: string, group: string, key: string): string | undefined {
  return lookupIni(parseIni(text, 'x.ini'), group, key)?.value;
}

function parseError(text: string): IniParseError {
  try {
    parseIni(text, '/etc/neutron/bad.ini');
  } catch (e) {
    assert.ok(e instanceof IniParseError, `expected IniParseError, got ${String(e)}`);
    return e;
  }
  assert.fail('no parse error');
}

describe('INI parser (oslo iniparser semantics)', () => {
  it('accepts "=" and ":" and splits on whichever comes first', () => {
    const t = '[ovs]\na = 1\nb: 2\nc: x=y\nd = x:y\n';
    assert.equal(value(t, 'ovs', 'a'), '1');
    assert.equal(value(t, 'ovs', 'b'), '2');
    assert.equal(value(t, 'ovs', 'c'), 'x=y');
    assert.equal(value(t, 'ovs', 'd'), 'x:y');
  });

  it('strips blanks and one pair of matching quotes', () => {
    const t = `[ovs]\na =   spaced   \nb = 'single'\nc = "double"\nd = 'mixed"\ne = "\nf = ''\n`;
    assert.equal(value(t, 'ovs', 'a'), 'spaced');
    assert.equal(value(t, 'ovs', 'b'), 'single');
    assert.equal(value(t, 'ovs', 'c'), 'double');
    assert.equal(value(t, 'ovs', 'd'), `'mixed"`);
    assert.equal(value(t, 'ovs', 'e'), '');
    assert.equal(value(t, 'ovs', 'f'), '');
  });

  it('treats only whole lines starting with # or ; as comments', () => {
    const t = '[ovs]\n# a = 1\n; b = 2\nc = value # not a comment\n';
    assert.equal(value(t, 'ovs', 'a'), undefined);
    assert.equal(value(t, 'ovs', 'b'), undefined);
    assert.equal(value(t, 'ovs', 'c'), 'value # not a comment');
  });

  it('joins indented continuation lines with newlines until a blank line', () => {
    const t = '[ovs]\nbridge_mappings = physnet1:br-ex,\n    physnet2:br-eth1\n\nnext = 1\n';
    assert.equal(value(t, 'ovs', 'bridge_mappings'), 'physnet1:br-ex,\nphysnet2:br-eth1');
    assert.equal(value(t, 'ovs', 'next'), '1');
  });

  it('rejects an indented line that continues nothing, with its line number', () => {
    const e = parseError('[ovs]\na = 1\n\n  orphan\n');
    assert.equal(e.line, 4);
    assert.equal(e.reason, 'Unexpected continuation line');
    assert.match(e.message, /^\/etc\/neutron\/bad\.ini:4: Unexpected continuation line/);
  });

  it('last occurrence of a repeated key wins, also across [OVS]/[ovs] spellings', () => {
    const t = '[ovs]\nlocal_ip = 10.0.0.1\n[OVS]\nlocal_ip = 10.0.0.2\n[Ovs]\nlocal_ip = 10.0.0.3\n[ovs]\nother = x\n';
    assert.equal(value(t, 'ovs', 'local_ip'), '10.0.0.3');
    assert.equal(lookupIni(parseIni(t, 'f'), 'OVS', 'local_ip')?.line, 6);
  });

  it('keeps [DEFAULT] exact and lower-cases every other section', () => {
    const doc = parseIni('[DEFAULT]\na = 1\n[default]\nb = 2\n[AGENT]\nc = 3\n', 'f');
    assert.deepEqual(doc.groups, ['DEFAULT', 'default', 'agent']);
    assert.equal(lookupIni(doc, 'DEFAULT', 'b'), undefined);
    assert.equal(lookupIni(doc, 'agent', 'c')?.section, 'AGENT');
  });

  it('keys are case-sensitive', () => {
    assert.equal(value('[ovs]\nLocal_IP = 1.2.3.4\n', 'ovs', 'local_ip'), undefined);
  });

  it('rejects an assignment before any section', () => {
    const e = parseError('# header\nhost = x\n[DEFAULT]\n');
    assert.equal(e.line, 2);
    assert.equal(e.reason, 'Section must be started before assignment');
  });

  it('rejects malformed section headers, missing separators and empty keys', () => {
    assert.equal(parseError('[ovs\n').reason, 'Invalid section (must end with ])');
    assert.equal(parseError('[]\n').reason, 'Empty section name');
    assert.equal(parseError('[ovs]\njust words\n').reason, "No ':' or '=' found in assignment");
    const e = parseError('[ovs]\n= value\n');
    assert.equal(e.reason, 'Key cannot be empty');
    assert.equal(e.line, 2);
  });

  it('handles CRLF line endings and a UTF-8 BOM', () => {
    const t = '\uFEFF[DEFAULT]\r\nhost = a\r\n[ovs]\r\nx = 1\r\n';
    assert.equal(value(t, 'DEFAULT', 'host'), 'a');
    assert.equal(value(t, 'ovs', 'x'), '1');
  });

  it('keeps an empty value as the empty string', () => {
    assert.equal(value('[ovs]\nlocal_ip =\n', 'ovs', 'local_ip'), '');
  });
});
