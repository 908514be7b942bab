import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { abnormalCloseText, causeWord, isAbnormalClose, isUntrustedCertificate, reconnectOptions, untrustedCertificateText } from '../../../src/extension/connectText';

describe('connectText', () => {
  test('the cause of a drop in a word: reset, refused, timeout', () => {
    assert.equal(causeWord('ECONNRESET'), 'reset');
    assert.equal(causeWord('ECONNREFUSED'), 'refused');
    assert.equal(causeWord('ETIMEDOUT'), 'timeout');
    assert.equal(causeWord('EHANDSHAKETIMEOUT'), 'timeout');
    assert.equal(causeWord('DEPTH_ZERO_SELF_SIGNED_CERT'), 'certificate');
    assert.equal(causeWord(undefined), undefined);
  });

  test('1000 and 1001 are normal, and so is any close the user asked for; 1006 and others are not', () => {
    assert.equal(isAbnormalClose(1000, false), false);
    assert.equal(isAbnormalClose(1001, false), false);
    assert.equal(isAbnormalClose(1006, false), true);
    assert.equal(isAbnormalClose(1011, false), true);
    assert.equal(isAbnormalClose(undefined, false), true);
    assert.equal(isAbnormalClose(1006, true), false);
  });

  test('the abnormal close names its code, 1006 included, and its cause', () => {
    assert.equal(abnormalCloseText(1006, 'ECONNRESET'), 'closed abnormally: 1006 (reset)');
    assert.equal(abnormalCloseText(undefined, undefined), 'closed abnormally: 1006 (no close frame)');
    assert.equal(abnormalCloseText(1011, undefined), 'closed abnormally: 1011');
  });

  test('an untrusted certificate is told in the endpoint settings, not in library options', () => {
    assert.equal(isUntrustedCertificate('DEPTH_ZERO_SELF_SIGNED_CERT'), true);
    assert.equal(isUntrustedCertificate('CERT_HAS_EXPIRED'), false);
    const t = untrustedCertificateText('127.0.0.1:8443', 'local');
    assert.match(t, /caFile/);
    assert.match(t, /allowSelfSigned/);
    assert.match(t, /"local"/);
    assert.doesNotMatch(t, /tls\.ca|rejectUnauthorized/);
  });

  test('the reconnect setting: off, on, or backoff bounds for the core', () => {
    assert.equal(reconnectOptions(undefined), undefined);
    assert.equal(reconnectOptions(false), undefined);
    assert.deepEqual(reconnectOptions(true), { enabled: true });
    assert.deepEqual(reconnectOptions({ initialDelayMs: 100, maxDelayMs: 2000, maxAttempts: 5 }), { enabled: true, initialDelayMs: 100, maxDelayMs: 2000, maxAttempts: 5 });
    assert.deepEqual(reconnectOptions({ initialDelayMs: 900, maxDelayMs: 10 }), { enabled: true, initialDelayMs: 900, maxDelayMs: 900 });
    assert.deepEqual(reconnectOptions({ enabled: false, initialDelayMs: -1 }), { enabled: false });
  });
});
